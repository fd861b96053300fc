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
}
