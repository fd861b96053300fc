using LieConv.MLNet;
using LieConv.Models;
using LieConv.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace LieConv.Tests.MLNet;

/// <summary>The training options of the ML.NET trainers, exercised through mlContext pipelines.</summary>
[TestFixture]
public class TrainingOptionsTests : TempFolderFixture
{
    [Test]
    public void ValidationMetricsReachTheProgressCallbackAndTheLog()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("LieConv")) lock (messages) messages.Add(e.Message); };
        var reports = new List<TrainingProgress>();
        var options = TestClouds.Tiny(epochs: 2);
        options.ValidationSet = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(16, 1)))
            .Transform(ml.Data.LoadFromEnumerable(TestClouds.Make(12, 2)));
        options.ReportEvery = 1;
        options.Progress = reports.Add;

        TestClouds.Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(16, 1)));

        var epochEnds = reports.Where(r => r.Kind == ProgressKind.EpochEnd).ToList();
        Assert.That(epochEnds, Has.Count.EqualTo(2));
        foreach (var end in epochEnds)
        {
            Assert.That(end.ValidationMetrics!.Keys, Is.EquivalentTo(LieConvMulticlassTrainer.MetricNames));
            Assert.That(end.ValidationMetrics["Accuracy"], Is.InRange(0.0, 1.0));
            Assert.That(end.ValidationMetrics["LogLoss"], Is.GreaterThan(0));
        }
        Assert.That(reports.Count(r => r.Kind == ProgressKind.Step), Is.EqualTo(2 * 2), "16 clouds in batches of 8 for 2 epochs, reported every step");
        Assert.That(reports.Last().EstimatedRemaining, Is.Not.Null);
        Assert.That(messages.Any(m => m.Contains("validation Accuracy")), Is.True, string.Join("\n", messages));
        // On the CPU the log says when libtorch's MKL takes its generic kernels (a processor not Intel's, with LIECONV_MKL_OWN_KERNELS=0).
        Assert.That(messages.Any(m => m.Contains("generic matrix kernels")), Is.EqualTo(LieConv.Runtime.TorchRuntime.MklTakesGenericKernels() == true),
            string.Join("\n", messages));
    }

    [Test]
    public void EarlyStoppingStopsWhenTheMetricStopsImproving()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(TestClouds.Make(16, 1));
        var reports = new List<TrainingProgress>();
        var options = TestClouds.Tiny(epochs: 6);
        // Without batch norm and with a negligible step the weights cannot change, so neither can the accuracy.
        options.BatchNorm = false;
        options.LearningRate = 1e-30;
        options.ValidationSet = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train).Transform(ml.Data.LoadFromEnumerable(TestClouds.Make(10, 2)));
        options.EarlyStoppingMetric = "Accuracy";
        options.Patience = 2;
        options.Progress = reports.Add;

        TestClouds.Pipeline(ml, options).Fit(train);

        Assert.That(reports.Count(r => r.Kind == ProgressKind.EpochEnd), Is.EqualTo(3), "best at epoch 1, then two epochs without improvement");
        Assert.That(reports.Last(r => r.Kind == ProgressKind.EpochEnd).BestEpoch, Is.EqualTo(0));
    }

    [Test]
    public void CancelledRunResumesToTheUninterruptedResult()
    {
        var clouds = TestClouds.Make(24, 4);
        LieConvMulticlassTrainer.Options Options(string folder)
        {
            var o = TestClouds.Tiny(epochs: 3);
            o.Augmentation = PointCloudAugmentation.SO2;   // random draws, whose generator state must be resumed too
            o.CheckpointDirectory = folder;
            o.NumberOfThreads = 1;
            return o;
        }

        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(clouds);
        var uninterrupted = TestClouds.Scores(ml, TestClouds.Pipeline(ml, Options(Path.Combine(Folder, "a"))).Fit(data), data);

        string folder = Path.Combine(Folder, "b");
        using var cancel = new CancellationTokenSource();
        var interrupted = Options(folder);
        interrupted.CancellationToken = cancel.Token;
        interrupted.ReportEvery = 1;
        interrupted.Progress = p => { if (p.Epoch == 1 && p.Step == 2) cancel.Cancel(); };
        Assert.Catch<OperationCanceledException>(() => TestClouds.Pipeline(ml, interrupted).Fit(data));
        Assert.That(File.Exists(Path.Combine(folder, TrainingCheckpoint.FileName)), Is.True, "the last completed epoch's checkpoint is left");

        var resumedOptions = Options(folder);
        resumedOptions.ResumeFromCheckpoint = true;
        var epochs = new List<int>();
        resumedOptions.Progress = p => { if (p.Kind == ProgressKind.EpochEnd) epochs.Add(p.Epoch); };
        var resumed = TestClouds.Scores(ml, TestClouds.Pipeline(ml, resumedOptions).Fit(data), data);

        Assert.That(epochs, Is.EqualTo(new[] { 1, 2 }), "the resumed run trains the remaining epochs only");
        Assert.That(resumed, Is.EqualTo(uninterrupted), "bit-identical to the uninterrupted run");
    }

    [Test]
    public void ResumingAnotherRunsCheckpointIsRefused()
    {
        var ml = new MLContext(seed: 1);
        string folder = Path.Combine(Folder, "run");
        var options = TestClouds.Tiny(epochs: 2);
        options.CheckpointDirectory = folder;
        TestClouds.Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(16, 4)));

        options.ResumeFromCheckpoint = true;
        var otherData = Assert.Catch<InvalidOperationException>(() => TestClouds.Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(16, 5))));
        Assert.That(otherData!.Message, Does.Contain("belongs to another run").And.Contain("training data sha256"));

        options.Seed = 4;
        var otherSeed = Assert.Catch<InvalidOperationException>(() => TestClouds.Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(16, 4))));
        Assert.That(otherSeed!.Message, Does.Contain("seed (3 then, 4 now)"));
    }

    [Test]
    public void ResumeWithoutACheckpointStartsAfresh()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(TestClouds.Make(16, 4));
        var options = TestClouds.Tiny(epochs: 1);
        var plain = TestClouds.Scores(ml, TestClouds.Pipeline(ml, options).Fit(data), data);
        options.CheckpointDirectory = Path.Combine(Folder, "empty");
        options.ResumeFromCheckpoint = true;
        Assert.That(TestClouds.Scores(ml, TestClouds.Pipeline(ml, options).Fit(data), data), Is.EqualTo(plain));
    }

    [Test]
    public void WarmupStartsFromAZeroLearningRate()
    {
        var ml = new MLContext(seed: 1);
        var reports = new List<TrainingProgress>();
        var options = TestClouds.Tiny(epochs: 2);
        options.WarmupFraction = 0.5;
        options.ReportEvery = 1;
        options.Progress = reports.Add;
        TestClouds.Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(32, 4)));

        var steps = reports.Where(r => r.Kind == ProgressKind.Step).Select(r => r.LearningRate).ToArray();
        // The original's one-step lag: steps 1 and 2 run at λ(0) = 0, then the warm-up rises linearly (reference §5.1).
        Assert.That(steps[0], Is.EqualTo(0));
        Assert.That(steps[1], Is.EqualTo(0));
        Assert.That(steps[2], Is.GreaterThan(0).And.LessThan(options.LearningRate));
    }

    [Test]
    public void DownsamplingScheduleFollowsTheImageRecipe()
    {
        var ml = new MLContext(seed: 1);
        var options = TestClouds.Tiny(epochs: 1);
        options.Layers = 2;
        options.TotalDownsampling = 0.25;
        options.IncreaseChannels = true;
        options.Fill = 0.2;
        var model = (ITransformer)ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LieConv(options))
            .Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(16, 4)));
        var lieConv = ((TransformerChain<LieConvMulticlassTransformer>)model).LastTransformer;
        var network = lieConv.NetworkOptions;
        Assert.That(network.Downsample, Is.EqualTo(0.5).Within(1e-12));
        Assert.That(network.StageWidths, Is.EqualTo(new[] { 8, 11, 16 }), "⌊k / ds^(i/2)⌋");
        Assert.That(network.LayerFills, Is.EqualTo(new[] { 0.2, 0.4 }).Within(1e-12), "Fill / ds^i");
    }

    [Test]
    public void AugmentationMustSuitTheCoordinates()
    {
        var ml = new MLContext(seed: 1);
        var options = TestClouds.Tiny(epochs: 1);
        options.Augmentation = PointCloudAugmentation.SE3;
        var error = Assert.Catch(() => TestClouds.Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(8, 4))));
        Assert.That(TestClouds.Messages(error), Does.Contain("Augmentation").And.Contain("d = 3").And.Contain("'Points'"));
    }

    [Test]
    public void GroupMustSuitTheCoordinates()
    {
        var ml = new MLContext(seed: 1);
        var options = TestClouds.Tiny(epochs: 1);
        options.Group = "SE3(.2)";
        var error = Assert.Catch(() => TestClouds.Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(8, 4))));
        Assert.That(TestClouds.Messages(error), Does.Contain("Group").And.Contain("3-dimensional").And.Contain("d = 2"));
    }

    [TestCase("Fill", "0", "Fill")]
    [TestCase("Group", "SE7", "Group")]
    [TestCase("TotalDownsampling", "1.5", "TotalDownsampling")]
    [TestCase("LiftSamples", "0", "LiftSamples")]
    [TestCase("WarmupFraction", "1", "WarmupFraction")]
    [TestCase("Patience", "2", "Patience")]
    [TestCase("EarlyStoppingMetric", "Accuracy", "ValidationSet")]
    [TestCase("ResumeFromCheckpoint", "true", "CheckpointDirectory")]
    public void BadOptionsAreRefusedByName(string field, string value, string named)
    {
        var ml = new MLContext(seed: 1);
        var options = TestClouds.Tiny();
        var info = typeof(LieConvMulticlassTrainer.Options).GetField(field)!;
        var type = Nullable.GetUnderlyingType(info.FieldType) ?? info.FieldType;
        info.SetValue(options, Convert.ChangeType(value, type, System.Globalization.CultureInfo.InvariantCulture));
        var error = Assert.Catch(() => ml.MulticlassClassification.Trainers.LieConv(options));
        Assert.That(error, Is.InstanceOf<ArgumentException>());
        Assert.That(TestClouds.Messages(error), Does.Contain(named));
    }

    [Test]
    public void UnknownEarlyStoppingMetricListsTheKnownOnes()
    {
        var ml = new MLContext(seed: 1);
        var options = TestClouds.Tiny();
        options.ValidationSet = ml.Data.LoadFromEnumerable(TestClouds.Make(4, 1));
        options.EarlyStoppingMetric = "F1";
        var error = Assert.Catch<ArgumentException>(() => ml.MulticlassClassification.Trainers.LieConv(options));
        Assert.That(error!.Message, Does.Contain("'F1'").And.Contain("Accuracy, LogLoss"));
    }

    [Test]
    public void UnknownDeviceNameIsRefused()
    {
        var ml = new MLContext(seed: 1);
        var options = TestClouds.Tiny(epochs: 1);
        options.Device = "gpu";
        var error = Assert.Catch(() => TestClouds.Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(8, 4))));
        Assert.That(TestClouds.Messages(error), Does.Contain("Device").And.Contain("'cpu', 'cuda' or 'cuda:N'"));
    }

    [Test]
    public void CudaWithoutAGpuSaysHowToGetOne()
    {
        if (LieConv.Runtime.TorchRuntime.IsCudaAvailable())
            Assert.Ignore("This machine has CUDA; the test checks the error on machines without it.");
        var ml = new MLContext(seed: 1);
        var options = TestClouds.Tiny(epochs: 1);
        options.Device = "cuda";
        var error = Assert.Catch<InvalidOperationException>(() => TestClouds.Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(TestClouds.Make(8, 4))));
        Assert.That(error!.Message, Does.Contain("TorchBackend"));
    }

    [Test]
    public void MlContextGpuRequestFallsBackToTheCpuOnlyWhenAllowed()
    {
        if (LieConv.Runtime.TorchRuntime.IsCudaAvailable())
            Assert.Ignore("This machine has CUDA; the test checks the fallback on machines without it.");
        var data = TestClouds.Make(8, 4);

        var strict = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var error = Assert.Catch<InvalidOperationException>(() => TestClouds.Pipeline(strict, TestClouds.Tiny(1)).Fit(strict.Data.LoadFromEnumerable(data)));
        Assert.That(error!.Message, Does.Contain("GpuDeviceId").And.Contain("FallbackToCpu"));

        var lenient = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var model = TestClouds.Pipeline(lenient, TestClouds.Tiny(1)).Fit(lenient.Data.LoadFromEnumerable(data));
        var lieConv = ((IEnumerable<ITransformer>)model).OfType<LieConvMulticlassTransformer>().Single();
        Assert.That(lieConv.Device, Is.EqualTo("cpu"));
    }
}
