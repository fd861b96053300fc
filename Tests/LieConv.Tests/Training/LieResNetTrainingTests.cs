using LieConv.Models;
using LieConv.Runtime;
using LieConv.Training;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Nn.NnTestData;
using static LieConv.Tests.Training.TrainingTestData;

namespace LieConv.Tests.Training;

/// <summary>The trainer on a real (small) LieResNet: random ball neighbourhoods, masked batch norm and radius buffers.</summary>
[TestFixture]
public class LieResNetTrainingTests
{
    private sealed record CloudBatch(PointCloudBatch Clouds, Tensor Labels);

    [Test]
    public void LieResNet_TrainsThroughTheTrainer_AndResumesBitForBit()
    {
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            manual_seed(51);
            var clouds = RandomClouds(16, 12, 2, 2);
            var labels = arange(16, dtype: ScalarType.Int64) % 4;
            var source = new IndexBatchSource<CloudBatch>(16, 8, indices =>
            {
                using var index = tensor(indices.Select(i => (long)i).ToArray());
                return new CloudBatch(new PointCloudBatch(clouds.Coordinates.index_select(0, index), clouds.Values.index_select(0, index),
                    clouds.Mask.index_select(0, index)), labels.index_select(0, index));
            }, seed: 52);

            LieResNet NewNet(long seed)
            {
                manual_seed(seed);
                return Net("T(2)", layers: 1, width: 8, neighbourhood: 6, outputs: 4);
            }

            Trainer<CloudBatch> NewTrainer(LieResNet net, string? folder) => new(net, b =>
            {
                var logits = net.forward(b.Clouds);
                return new BatchOutput(logits, Losses.CrossEntropy(logits, b.Labels));
            }, source, new TrainerOptions { Epochs = 3, LearningRate = 3e-3, Seed = 53, SelectionMetric = "Acc", CheckpointDirectory = folder, ReportEvery = 0 },
                source, [new TrainingMetric<CloudBatch>("Acc", (b, o) => Metrics.Accuracy(o.Prediction, b.Labels))]);

            var reference = NewNet(54);
            TrainingResult expected;
            using (var trainer = NewTrainer(reference, null)) expected = trainer.Fit();
            Assert.That(expected.History.All(h => double.IsFinite(h.TrainingLoss)), Is.True);

            using var folder = new TempFolder();
            using var cancel = new CancellationTokenSource();
            var progress = new ProgressRecorder(p => { if (p.Kind == ProgressKind.EpochEnd && p.Epoch == 0) cancel.Cancel(); });
            using (var trainer = NewTrainer(NewNet(54), folder.Path))
                Assert.That(() => trainer.Fit(progress, cancel.Token), Throws.InstanceOf<OperationCanceledException>());

            var resumed = NewNet(55);
            TrainingResult result;
            using (var trainer = NewTrainer(resumed, folder.Path)) result = trainer.Resume();
            Assert.That(SameState(Snapshot(resumed), Snapshot(reference)), Is.True);
            Assert.That(result.History.Select(h => h.TrainingLoss), Is.EqualTo(expected.History.Select(h => h.TrainingLoss)));
        }
        finally
        {
            set_num_threads(threads);
        }
    }
}
