using LieConv.Runtime;
using LieConv.Training;
using LieConv.Tests.Nn;
using NUnit.Framework;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static LieConv.Tests.Training.TrainingTestData;

namespace LieConv.Tests.Training;

[TestFixture]
public class CheckpointTests : SingleThreadedFixture
{
    private const int Epochs = 4;
    private const int StepsPerEpoch = 6;     // 48 samples in batches of 8

    private static readonly (Tensor X, Tensor Y) Train = Quadrants(48, seed: 21);
    private static readonly (Tensor X, Tensor Y) Valid = Quadrants(20, seed: 22);

    private static TrainerOptions Options(string? folder) => new()
    {
        Epochs = Epochs, LearningRate = 0.02, SelectionMetric = "Acc", CheckpointDirectory = folder, ReportEvery = 1, Seed = 77,
    };

    private static Trainer<ToyBatch> NewTrainer(Sequential model, string? folder, TrainerOptions? options = null) =>
        new(model, Classifier(model), Source(Train.X, Train.Y, 8, seed: 23), options ?? Options(folder),
            Source(Valid.X, Valid.Y, 8, shuffle: false), [Accuracy, TrainingMetric<ToyBatch>.Loss()]);

    /// <summary>Runs <paramref name="action"/> with one libtorch thread: multi-threaded reductions need not be bitwise reproducible.</summary>
    private static void SingleThreaded(Action action)
    {
        int threads = get_num_threads();
        set_num_threads(1);
        try { action(); }
        finally { set_num_threads(threads); }
    }

    [TestCase(false, TestName = "Resume_AfterCancellingMidEpoch_EqualsAnUninterruptedRunBitForBit")]
    [TestCase(true, TestName = "Resume_AfterCancellingAtAnEpochEnd_EqualsAnUninterruptedRunBitForBit")]
    public void Resume_EqualsAnUninterruptedRun(bool atEpochEnd) => SingleThreaded(() =>
    {
        var reference = Mlp(initSeed: 31);
        TrainingResult expected;
        using (var trainer = NewTrainer(reference, folder: null)) expected = trainer.Fit();

        using var folder = new TempFolder();
        using var cancel = new CancellationTokenSource();
        var interrupted = Mlp(initSeed: 31);
        long stopAt = 2L * StepsPerEpoch + (atEpochEnd ? 0 : 3);
        var progress = new ProgressRecorder(p =>
        {
            if (p.GlobalStep == stopAt && (p.Kind == ProgressKind.EpochEnd) == atEpochEnd) cancel.Cancel();
        });
        using (var trainer = NewTrainer(interrupted, folder.Path))
            Assert.That(() => trainer.Fit(progress, cancel.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(progress.Reports.Last().GlobalStep, Is.EqualTo(stopAt), "cancelled where asked");

        // The checkpoint is that of the last completed epoch, whatever the cancelled epoch did to the model.
        var checkpoint = TrainingCheckpoint.Read(Path.Combine(folder.Path, TrainingCheckpoint.FileName));
        Assert.That(checkpoint.CompletedEpochs, Is.EqualTo(2));
        Assert.That(checkpoint.GlobalStep, Is.EqualTo(2 * StepsPerEpoch));
        Assert.That(Directory.GetFiles(folder.Path), Has.Length.EqualTo(1), "no temporary file is left");

        // Another initialisation and a disturbed generator: the resume must restore both.
        var resumedModel = Mlp(initSeed: 99);
        rand(5);
        TrainingResult resumed;
        var resumedProgress = new ProgressRecorder();
        using (var trainer = NewTrainer(resumedModel, folder.Path)) resumed = trainer.Resume(resumedProgress);

        Assert.That(resumedProgress.Reports.First().GlobalStep, Is.EqualTo(2 * StepsPerEpoch + 1), "continues with epoch 2");
        Assert.That(SameState(Snapshot(resumedModel), Snapshot(reference)), Is.True, "bit-identical weights and buffers");
        Assert.That(resumed.BestEpoch, Is.EqualTo(expected.BestEpoch));
        Assert.That(resumed.BestValue, Is.EqualTo(expected.BestValue));
        Assert.That(resumed.GlobalSteps, Is.EqualTo(expected.GlobalSteps));
        Assert.That(resumed.History.Select(h => h.TrainingLoss), Is.EqualTo(expected.History.Select(h => h.TrainingLoss)));
        Assert.That(resumed.History.Select(h => h.ValidationMetrics["Loss"]), Is.EqualTo(expected.History.Select(h => h.ValidationMetrics["Loss"])));
    });

    [Test]
    public void Checkpoint_RoundTripsEveryField()
    {
        using var folder = new TempFolder();
        var model = Mlp(initSeed: 32);
        TrainingResult result;
        using (var trainer = NewTrainer(model, folder.Path)) result = trainer.Fit();
        string path = Path.Combine(folder.Path, TrainingCheckpoint.FileName);

        var checkpoint = TrainingCheckpoint.Read(path);
        Assert.That(checkpoint.Epochs, Is.EqualTo(Epochs));
        Assert.That(checkpoint.BatchesPerEpoch, Is.EqualTo(StepsPerEpoch));
        Assert.That(checkpoint.LearningRate, Is.EqualTo(0.02));
        Assert.That(checkpoint.CompletedEpochs, Is.EqualTo(Epochs));
        Assert.That(checkpoint.GlobalStep, Is.EqualTo(Epochs * StepsPerEpoch));
        Assert.That(checkpoint.BestEpoch, Is.EqualTo(result.BestEpoch));
        Assert.That(checkpoint.BestValue, Is.EqualTo(result.BestValue));
        Assert.That(checkpoint.History, Has.Count.EqualTo(Epochs));
        Assert.That(checkpoint.History.Select(h => h.ValidationMetrics["Acc"]), Is.EqualTo(result.History.Select(h => h.ValidationMetrics["Acc"])));
        Assert.That(checkpoint.History.Select(h => h.Duration), Is.EqualTo(result.History.Select(h => h.Duration)));
        Assert.That(checkpoint.RngState, Is.Not.Empty);
        Assert.That(checkpoint.OptimizerState, Is.Not.Empty);

        // The stored best weights are the ones the trainer restored.
        var fresh = Mlp(initSeed: 33);
        using (var reader = new BinaryReader(new MemoryStream(checkpoint.BestWeights!))) fresh.load(reader);
        Assert.That(SameState(Snapshot(fresh), Snapshot(model)), Is.True);

        // Writing what was read reproduces the file byte for byte.
        string copy = folder.File("copy.ckpt");
        checkpoint.Write(copy);
        Assert.That(File.ReadAllBytes(copy), Is.EqualTo(File.ReadAllBytes(path)));

        // Resuming a finished run trains nothing and ends with the best weights again.
        var again = Mlp(initSeed: 34);
        using var resumer = NewTrainer(again, folder.Path);
        var resumed = resumer.Resume();
        Assert.That(resumed.GlobalSteps, Is.EqualTo(result.GlobalSteps));
        Assert.That(SameState(Snapshot(again), Snapshot(model)), Is.True);
    }

    private static string WriteSmallCheckpoint(TempFolder folder)
    {
        var model = Mlp(initSeed: 35);
        using var trainer = NewTrainer(model, folder.Path, Options(folder.Path) with { Epochs = 1, ReportEvery = 0 });
        trainer.Fit();
        return trainer.CheckpointPath!;
    }

    [Test]
    public void TruncatedCheckpoint_GivesAClearErrorNamingTheFile()
    {
        using var folder = new TempFolder();
        string path = WriteSmallCheckpoint(folder);
        byte[] bytes = File.ReadAllBytes(path);

        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.That(() => TrainingCheckpoint.Read(path),
            Throws.InstanceOf<CheckpointException>().With.Message.Contains(path).And.Message.Contains("truncated"));
        // Resume reports the same.
        using (var trainer = NewTrainer(Mlp(initSeed: 36), folder.Path, Options(folder.Path) with { Epochs = 1 }))
            Assert.That(() => trainer.Resume(), Throws.InstanceOf<CheckpointException>().With.Property(nameof(CheckpointException.Path)).EqualTo(path));

        File.WriteAllBytes(path, bytes[..10]);
        Assert.That(() => TrainingCheckpoint.Read(path),
            Throws.InstanceOf<CheckpointException>().With.Message.Contains(path).And.Message.Contains("truncated"));
    }

    [Test]
    public void TamperedCheckpoint_GivesAClearErrorNamingTheFile()
    {
        using var folder = new TempFolder();
        string path = WriteSmallCheckpoint(folder);
        byte[] original = File.ReadAllBytes(path);

        void Expect(Action<byte[]> tamper, string phrase)
        {
            var bytes = (byte[])original.Clone();
            tamper(bytes);
            File.WriteAllBytes(path, bytes);
            Assert.That(() => TrainingCheckpoint.Read(path),
                Throws.InstanceOf<CheckpointException>().With.Message.Contains(path).And.Message.Contains(phrase));
        }

        Expect(b => b[b.Length / 2] ^= 0x01, "checksum");              // a weight bit
        Expect(b => b[^1] ^= 0x80, "checksum");                         // the last byte
        Expect(b => b[0] = (byte)'X', "not a LieConv.NET training checkpoint");
        Expect(b => b[8] = 9, "format version 9");
        Expect(b => b[12] ^= 0x04, "payload");                          // the announced length
        File.WriteAllBytes(path, [.. original, 0]);
        Assert.That(() => TrainingCheckpoint.Read(path), Throws.InstanceOf<CheckpointException>().With.Message.Contains(path));
    }

    [Test]
    public void Resume_RefusesAnotherRunOrAnotherModel()
    {
        using var folder = new TempFolder();
        WriteSmallCheckpoint(folder);
        using (var trainer = NewTrainer(Mlp(initSeed: 37), folder.Path, Options(folder.Path) with { Epochs = 2 }))
            Assert.That(() => trainer.Resume(), Throws.InvalidOperationException.With.Message.Contains("another run"));
        using (var trainer = NewTrainer(Mlp(initSeed: 37, hidden: 12), folder.Path, Options(folder.Path) with { Epochs = 1 }))
            Assert.That(() => trainer.Resume(), Throws.InstanceOf<CheckpointException>().With.Message.Contains("do not fit"));
        using (var trainer = NewTrainer(Mlp(initSeed: 37), folder.File("empty"), Options(folder.File("empty")) with { Epochs = 1 }))
            Assert.That(() => trainer.Resume(), Throws.InstanceOf<FileNotFoundException>());
        using (var trainer = NewTrainer(Mlp(initSeed: 37), null, Options(null)))
            Assert.That(() => trainer.Resume(), Throws.InvalidOperationException.With.Message.Contains("CheckpointDirectory"));
    }

    [Test]
    public void AtomicWrite_ThatFailsMidWay_LeavesThePreviousFileAndNoTemporary()
    {
        using var folder = new TempFolder();
        string path = folder.File(TrainingCheckpoint.FileName);
        AtomicFile.Write(path, s => s.Write("version 1"u8));

        Assert.That(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1 << 20]);
            throw new IOException("simulated crash mid-write");
        }), Throws.InstanceOf<IOException>().With.Message.Contains("simulated"));

        Assert.That(File.ReadAllText(path), Is.EqualTo("version 1"));
        Assert.That(Directory.GetFiles(folder.Path).Select(Path.GetFileName), Is.EqualTo(new[] { TrainingCheckpoint.FileName }));

        // A temporary file left by a killed process is removed by the next write.
        File.WriteAllText(folder.File($".{TrainingCheckpoint.FileName}.0123.tmp"), "stale");
        AtomicFile.Write(path, s => s.Write("version 2"u8));
        Assert.That(File.ReadAllText(path), Is.EqualTo("version 2"));
        Assert.That(Directory.GetFiles(folder.Path), Has.Length.EqualTo(1));
    }

    [Test]
    public void CancellingTheFirstEpoch_LeavesAnEpochZeroCheckpointToResumeFrom() => SingleThreaded(() =>
    {
        var reference = Mlp(initSeed: 38);
        using (var trainer = NewTrainer(reference, null, Options(null) with { Epochs = 1, ReportEvery = 0 })) trainer.Fit();

        using var folder = new TempFolder();
        using var cancel = new CancellationTokenSource();
        var progress = new ProgressRecorder(p => { if (p.GlobalStep == 2) cancel.Cancel(); });
        using (var trainer = NewTrainer(Mlp(initSeed: 38), folder.Path, Options(folder.Path) with { Epochs = 1 }))
            Assert.That(() => trainer.Fit(progress, cancel.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(TrainingCheckpoint.Read(Path.Combine(folder.Path, TrainingCheckpoint.FileName)).CompletedEpochs, Is.EqualTo(0));

        var resumed = Mlp(initSeed: 39);
        using (var trainer = NewTrainer(resumed, folder.Path, Options(folder.Path) with { Epochs = 1, ReportEvery = 0 })) trainer.Resume();
        Assert.That(SameState(Snapshot(resumed), Snapshot(reference)), Is.True);
    });
}
