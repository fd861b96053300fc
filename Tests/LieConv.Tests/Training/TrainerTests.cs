using LieConv.Runtime;
using LieConv.Training;
using LieConv.Tests.Nn;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Training.TrainingTestData;

namespace LieConv.Tests.Training;

[TestFixture]
public class TrainerTests : SingleThreadedFixture
{
    [Test]
    public void TinyMlp_LearnsQuadrants_AndEndsWithTheBestValidationWeights()
    {
        TorchRuntime.SeedEverything(11);
        var (x, y) = Quadrants(256, seed: 1);
        var (vx, vy) = Quadrants(128, seed: 2);
        var model = Mlp(initSeed: 3);
        var snapshots = new Dictionary<int, Dictionary<string, Tensor>>();
        var progress = new ProgressRecorder(p => { if (p.Kind == ProgressKind.EpochEnd) snapshots[p.Epoch] = Snapshot(model); });
        using var trainer = new Trainer<ToyBatch>(model, Classifier(model), Source(x, y, 32), new TrainerOptions
        {
            Epochs = 15, LearningRate = 1e-2, SelectionMetric = "Acc", ReportEvery = 0,
        }, Source(vx, vy, 50, shuffle: false), [Accuracy]);

        var result = trainer.Fit(progress);

        Assert.That(result.CompletedEpochs, Is.EqualTo(15));
        Assert.That(result.GlobalSteps, Is.EqualTo(15 * 8));
        Assert.That(result.History.First().TrainingLoss, Is.GreaterThan(result.History.Last().TrainingLoss * 2), "the loss falls");
        Assert.That(result.BestValue, Is.GreaterThan(0.9), "validation accuracy");
        int best = result.BestEpoch!.Value;
        Assert.That(result.BestValue, Is.EqualTo(result.History.Max(h => h.ValidationMetrics["Acc"])));
        Assert.That(result.History[best].ValidationMetrics["Acc"], Is.EqualTo(result.BestValue));
        Assert.That(result.History[best].Improved, Is.True);
        Assert.That(result.RestoredBestWeights, Is.True);
        Assert.That(SameState(Snapshot(model), snapshots[best]), Is.True, "the model holds the best epoch's weights");
        Assert.That(trainer.Evaluate(trainer.Validation!)["Acc"], Is.EqualTo(result.BestValue), "evaluating them reproduces the best value");
    }

    private static (Trainer<ToyBatch> Trainer, ScriptedValidation Validation, Dictionary<int, Dictionary<string, Tensor>> Snapshots, ProgressRecorder Progress)
        Scripted(double[] values, string name, TrainerOptions options)
    {
        // A regression model whose validation "metric" is a script indexed by epoch: selection and patience become deterministic.
        manual_seed(4);
        var model = nn.Linear(1, 1);
        var data = new ToyBatch(linspace(-1, 1, 8).view(8, 1), linspace(-1, 1, 8).view(8, 1) * 3);
        var validation = new ScriptedValidation(data);
        var metric = new TrainingMetric<ToyBatch>(name, (_, _) => tensor(values[validation.Epoch]));
        var snapshots = new Dictionary<int, Dictionary<string, Tensor>>();
        var progress = new ProgressRecorder(p => { if (p.Kind == ProgressKind.EpochEnd) snapshots[p.Epoch] = Snapshot(model); });
        var source = new IndexBatchSource<ToyBatch>(8, 4, i => data, shuffle: false);
        var trainer = new Trainer<ToyBatch>(model, b => { var p = model.forward(b.X); return new BatchOutput(p, Losses.MeanSquaredError(p, b.Y)); },
            source, options with { ReportEvery = 0 }, validation, [metric]);
        return (trainer, validation, snapshots, progress);
    }

    [Test]
    public void EarlyStopping_StopsWhenPatienceRunsOut_AndRestoresTheBestEpoch()
    {
        double[] errors = [5, 3, 4, 2, 2.5, 2.1, 2.2, 1.0, 0.5, 0.4];
        var (trainer, validation, snapshots, progress) = Scripted(errors, "val_err", new TrainerOptions { Epochs = 10, SelectionMetric = "val_err", Patience = 3 });
        using var _ = trainer;
        var result = trainer.Fit(progress);

        // New bests at epochs 0, 1 and 3; epochs 4, 5, 6 do not improve, so patience 3 stops after epoch 6.
        Assert.That(result.CompletedEpochs, Is.EqualTo(7));
        Assert.That(result.StoppedEarly, Is.True);
        Assert.That(validation.EpochsSeen, Is.EqualTo(new[] { 0, 1, 2, 3, 4, 5, 6 }));
        Assert.That(result.BestEpoch, Is.EqualTo(3));
        Assert.That(result.BestValue, Is.EqualTo(2.0));
        Assert.That(result.History.Select(h => h.Improved), Is.EqualTo(new[] { true, true, false, true, false, false, false }));
        Assert.That(progress.Reports.Last().BestEpoch, Is.EqualTo(3));
        Assert.That(SameState(Snapshot(trainer.Model), snapshots[3]), Is.True);
        Assert.That(SameState(snapshots[3], snapshots[6]), Is.False, "training moved on after the best epoch");
    }

    [Test]
    public void Selection_MaximisesAccuracyNames_AndPatienceOnTheLastEpochIsNotAnEarlyStop()
    {
        var (trainer, _, snapshots, progress) = Scripted([0.1, 0.5, 0.4, 0.45], "Acc", new TrainerOptions { Epochs = 4, SelectionMetric = "Acc", Patience = 2 });
        using var _ = trainer;
        var result = trainer.Fit(progress);
        Assert.That(result.BestEpoch, Is.EqualTo(1));
        Assert.That(result.CompletedEpochs, Is.EqualTo(4));
        Assert.That(result.StoppedEarly, Is.False);
        Assert.That(SameState(Snapshot(trainer.Model), snapshots[1]), Is.True);
    }

    [Test]
    public void Selection_UsesAnExplicitDirection_AndRejectsAnUnknownOne()
    {
        var (trainer, _, _, progress) = Scripted([3, 1, 2], "score", new TrainerOptions { Epochs = 3, SelectionMetric = "score", SelectionDirection = MetricDirection.Maximize, RestoreBestWeights = false });
        using (trainer)
        {
            var result = trainer.Fit(progress);
            Assert.That(result.BestEpoch, Is.EqualTo(0));
            Assert.That(result.RestoredBestWeights, Is.False);
        }
        Assert.That(() => Scripted([1], "score", new TrainerOptions { Epochs = 1, SelectionMetric = "score" }),
            Throws.ArgumentException.With.Message.Contains("score"));
        Assert.That(() => Scripted([1], "err", new TrainerOptions { Epochs = 1, SelectionMetric = "other" }),
            Throws.ArgumentException.With.Message.Contains("other"));
    }

    [Test]
    public void Trainer_AppliesTheScheduleOneStepLate()
    {
        // S = 3, cosine over 2 epochs, base 0.1: steps use λ(0), λ(0), λ(1/3), λ(2/3), λ(1), λ(4/3).
        double[] expected = [0.1, 0.1, 0.1 * 0.5 * (1 + Math.Cos(Math.PI / 6)), 0.075, 0.05, 0.025];
        Assert.That(RecordedRates(new TrainerOptions { Epochs = 2, LearningRate = 0.1 }), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void Trainer_WarmupStartsWithTwoStepsThatDoNotMoveTheWeights()
    {
        // Warm-up over half of 2 epochs: λ(e) = min(e, 1)·cos-factor(e).
        var options = new TrainerOptions { Epochs = 2, LearningRate = 0.1, Schedule = new WarmupSchedule(new CosineSchedule(2), 2, 0.5) };
        double[] expected = [0, 0, 0.1 * (1.0 / 3) * 0.5 * (1 + Math.Cos(Math.PI / 6)), 0.1 * (2.0 / 3) * 0.75, 0.05, 0.025];
        Dictionary<string, Tensor>? initial = null, afterTwo = null, afterThree = null;
        var rates = RecordedRates(options, (model, p) =>
        {
            if (p.GlobalStep == 2) afterTwo = ParameterSnapshot(model);
            if (p.GlobalStep == 3) afterThree = ParameterSnapshot(model);
        }, model => initial = ParameterSnapshot(model));
        Assert.That(rates, Is.EqualTo(expected).Within(1e-12));
        Assert.That(SameState(initial!, afterTwo!), Is.True, "two zero-learning-rate steps (batch-norm statistics do move)");
        Assert.That(SameState(afterTwo!, afterThree!), Is.False);
    }

    private static double[] RecordedRates(TrainerOptions options, Action<nn.Module, TrainingProgress>? onStep = null, Action<nn.Module>? before = null)
    {
        var (x, y) = Quadrants(12, seed: 6);
        var model = Mlp(initSeed: 7, dropout: 0);
        before?.Invoke(model);
        var progress = new ProgressRecorder(p => { if (p.Kind == ProgressKind.Step) onStep?.Invoke(model, p); });
        using var trainer = new Trainer<ToyBatch>(model, Classifier(model), Source(x, y, 4), options with { ReportEvery = 1 });
        trainer.Fit(progress);
        return progress.Reports.Where(p => p.Kind == ProgressKind.Step).Select(p => p.LearningRate).ToArray();
    }

    [Test]
    public void Progress_ReportsStepsAndEpochEndsWithSensibleValues()
    {
        TorchRuntime.SeedEverything(12);
        var (x, y) = Quadrants(32, seed: 8);
        var model = Mlp(initSeed: 9);
        var progress = new ProgressRecorder();
        using var trainer = new Trainer<ToyBatch>(model, Classifier(model), Source(x, y, 8), new TrainerOptions { Epochs = 2, LearningRate = 0.01, ReportEvery = 3 },
            Source(x, y, 16, shuffle: false), [Accuracy, TrainingMetric<ToyBatch>.Loss()]);
        trainer.Fit(progress);

        var r = progress.Reports;
        // The first step of a session, every third step, and both epoch ends.
        Assert.That(r.Select(p => (p.Kind, p.Epoch, p.Step, p.GlobalStep)), Is.EqualTo(new[]
        {
            (ProgressKind.Step, 0, 1, 1L), (ProgressKind.Step, 0, 3, 3L), (ProgressKind.EpochEnd, 0, 4, 4L),
            (ProgressKind.Step, 1, 2, 6L), (ProgressKind.EpochEnd, 1, 4, 8L),
        }));
        Assert.That(r.Select(p => p.LearningRate), Is.EqualTo(new[]
        {
            0.01, 0.01 * 0.5 * (1 + Math.Cos(Math.PI / 8)),       // the 1st and 3rd steps (indices 0, 2) ran with λ(0) and λ(0.25)
            0.01 * 0.5 * (1 + Math.Cos(3 * Math.PI / 8)),         // epoch end: the next step (index 4) uses λ(0.75)
            0.005,                                                // the 6th step (index 5): λ(1) = ½
            0.01 * 0.5 * (1 + Math.Cos(7 * Math.PI / 8)),         // the next step (index 8) would use λ(1.75)
        }).Within(1e-12));
        Assert.That(r.All(p => double.IsFinite(p.Loss) && p.Loss > 0 && p.Loss < 5), Is.True);
        Assert.That(r.All(p => p.SamplesPerSecond > 0 && p.Epochs == 2 && p.StepsPerEpoch == 4), Is.True);
        Assert.That(r.Select(p => p.Elapsed), Is.Ordered);
        Assert.That(r.Where(p => p.Kind == ProgressKind.Step).All(p => p.ValidationMetrics is null), Is.True);
        foreach (var end in r.Where(p => p.Kind == ProgressKind.EpochEnd))
        {
            Assert.That(end.ValidationMetrics!.Keys, Is.EqualTo(new[] { "Acc", "Loss" }));
            Assert.That(end.ValidationMetrics["Acc"], Is.InRange(0.0, 1.0));
        }
        Assert.That(r.Last().EstimatedRemaining, Is.EqualTo(TimeSpan.Zero));
        Assert.That(r.First().EstimatedRemaining, Is.GreaterThan(TimeSpan.Zero));
    }

    [Test]
    public void Evaluate_AveragesARaggedLastBatchPerSample()
    {
        var x = arange(10, dtype: ScalarType.Float32).view(10, 1);
        var model = nn.Linear(1, 1);
        var meanX = new TrainingMetric<ToyBatch>("MeanX", (b, _) => b.X.mean());
        var source = Source(x, x, 4, shuffle: false);
        using var trainer = new Trainer<ToyBatch>(model, b => { var p = model.forward(b.X); return new BatchOutput(p, Losses.MeanSquaredError(p, b.Y)); },
            source, new TrainerOptions(), source, [meanX]);
        model.train();
        // Batches {0..3}, {4..7}, {8, 9}: per-sample mean 4.5; the original's nominal weighting would give 5.17.
        Assert.That(trainer.Evaluate(source)["MeanX"], Is.EqualTo(4.5).Within(1e-12));
        Assert.That(model.training, Is.True, "the mode is restored");
    }

    [Test]
    public void Constructor_RejectsInconsistentSetups()
    {
        var (x, y) = Quadrants(8, seed: 10);
        var model = Mlp(initSeed: 1);
        var source = Source(x, y, 4);
        Assert.That(() => new Trainer<ToyBatch>(model, Classifier(model), source, new TrainerOptions { SelectionMetric = "Acc" }, null, [Accuracy]),
            Throws.ArgumentException.With.Message.Contains("validation"));
        Assert.That(() => new Trainer<ToyBatch>(model, Classifier(model), source, new TrainerOptions(), source),
            Throws.ArgumentException.With.Message.Contains("metric"));
        Assert.That(() => new Trainer<ToyBatch>(model, Classifier(model), source, new TrainerOptions { Patience = 2 }),
            Throws.ArgumentException.With.Message.Contains("SelectionMetric"));
        Assert.That(() => new Trainer<ToyBatch>(model, Classifier(model), source, new TrainerOptions { Epochs = 0 }),
            Throws.InstanceOf<ArgumentOutOfRangeException>());
        using var trainer = new Trainer<ToyBatch>(model, Classifier(model), source, new TrainerOptions { ReportEvery = 0 });
        trainer.Fit();
        Assert.That(() => trainer.Fit(), Throws.InvalidOperationException.With.Message.Contains("once"));
    }
}
