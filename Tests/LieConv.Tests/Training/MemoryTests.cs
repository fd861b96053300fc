using LieConv.Runtime;
using LieConv.Training;
using LieConv.Tests.Nn;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Training.TrainingTestData;

namespace LieConv.Tests.Training;

[TestFixture]
public class MemoryTests : SingleThreadedFixture
{
    [Test]
    public void ThirtyEpochs_KeepTheNumberOfLiveTensorsFlat()
    {
        TorchRuntime.SeedEverything(41);
        var (x, y) = Quadrants(64, seed: 42);
        var model = Mlp(initSeed: 43);
        using var folder = new TempFolder();
        var live = new List<long>();
        // Sampled at epoch ends, outside every per-batch scope: whatever a step, a validation or a checkpoint leaked would accumulate here.
        var progress = new ProgressRecorder(p =>
        {
            if (p.Kind == ProgressKind.EpochEnd) live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        });
        using var trainer = new Trainer<ToyBatch>(model, Classifier(model), Source(x, y, 16), new TrainerOptions
        {
            Epochs = 30, LearningRate = 0.01, SelectionMetric = "Loss", Patience = 30, ReportEvery = 2, CheckpointDirectory = folder.Path,
        }, Source(x, y, 24, shuffle: false), [Accuracy, TrainingMetric<ToyBatch>.Loss()]);
        trainer.Fit(progress);

        TestContext.Out.WriteLine($"live tensors at epoch ends: {string.Join(", ", live)}");
        Assert.That(live, Has.Count.EqualTo(30));
        Assert.That(live.Skip(2).Max(), Is.LessThanOrEqualTo(live[1]), "no tensor outlives its epoch");
    }

    [Test]
    public void EveryBatch_RunsTheFinalizersOfWhatThePreviousOneDropped_InTrainingAndValidation()
    {
        // Each forward pass drops a finalizable object, as `x.mul(0.5)` drops the Scalar it makes; by the next forward
        // pass the trainer must have run its finalizer (without the per-batch collection nothing collects in so short a run).
        TorchRuntime.SeedEverything(44);
        var (x, y) = Quadrants(48, seed: 45);
        var model = Mlp(initSeed: 46);
        var classify = Classifier(model);
        var notYetFinalized = new List<int>();
        int calls = 0;
        BatchOutput Forward(ToyBatch batch)
        {
            if (calls > 0 && FinalizationProbe.Finalized < calls) notYetFinalized.Add(calls);
            calls++;
            FinalizationProbe.Drop();
            return classify(batch);
        }
        FinalizationProbe.Reset();
        using var trainer = new Trainer<ToyBatch>(model, Forward, Source(x, y, 16), new TrainerOptions { Epochs = 2, LearningRate = 0.01 },
            Source(x, y, 16, shuffle: false), [TrainingMetric<ToyBatch>.Loss()]);
        trainer.Fit();

        Assert.That(calls, Is.EqualTo(2 * (3 + 3)), "three training and three validation batches an epoch");
        Assert.That(notYetFinalized, Is.Empty, "forward calls (0-based) that found an earlier call's object not yet finalized");
    }
}

/// <summary>Objects made and dropped at once, counting their finalizers, as TorchSharp's Scalars free their native memory.</summary>
internal sealed class FinalizationProbe
{
    private static int finalized;

    /// <summary>How many dropped probes have been finalized since <see cref="Reset"/>.</summary>
    public static int Finalized => Volatile.Read(ref finalized);

    /// <summary>Runs pending finalizers of earlier probes and starts counting from zero.</summary>
    public static void Reset()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Volatile.Write(ref finalized, 0);
    }

    /// <summary>Makes a probe and drops it.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static void Drop() => _ = new FinalizationProbe();

    ~FinalizationProbe() => Interlocked.Increment(ref finalized);
}
