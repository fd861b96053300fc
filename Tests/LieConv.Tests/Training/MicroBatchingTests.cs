using LieConv.Models.Dynamics;
using LieConv.Tests.Dynamics;
using LieConv.Tests.Nn;
using LieConv.Training;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Training;

/// <summary>Training steps in micro-batches: the whole batch's gradient, one part's graph at a time, and what is refused.</summary>
[TestFixture]
public sealed class MicroBatchingTests : SingleThreadedFixture
{
    private static DynamicsBatch Systems(int count, long seed = 7)
    {
        var systems = SpringsTestData.Generate(count, steps: 5, seed: seed);
        var trajectory = systems.TrajectoriesTensor().to(ScalarType.Float32);
        return new DynamicsBatch(trajectory.select(1, 0), systems.ParametersTensor().to(ScalarType.Float32),
            systems.TimesTensor().to(ScalarType.Float32), trajectory);
    }

    private static DynamicsNetwork Network(DynamicsNetworkKind kind, long seed, bool batchNorm = false)
    {
        manual_seed(seed);
        return new DynamicsNetworkOptions { Network = kind, Channels = 16, Layers = 2, BatchNorm = batchNorm }.Create();
    }

    private static Dictionary<string, Tensor> Gradients(nn.Module model) =>
        model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone());

    [TestCase(2)]
    [TestCase(3)]
    [TestCase(7)]
    public void HamiltonianLieResNet_GetsTheWholeBatchsGradients_FromUnevenMicroBatches(int parts)
    {
        using var scope = NewDisposeScope();
        var batch = Systems(7);
        using var net = Network(DynamicsNetworkKind.HLieResNet, 3);
        net.eval();   // the ball radii stay where they are, so both passes see the same neighbourhoods
        var whole = IntegratedDynamics.Forward(net, batch);
        whole.Loss.backward();
        var expected = Gradients(net);
        net.zero_grad();

        var split = MicroBatching.ForwardBackward(batch, parts, b => IntegratedDynamics.Forward(net, b));

        Assert.That(split.Loss.requires_grad, Is.False);
        Assert.That(split.Loss.item<float>(), Is.EqualTo(whole.Loss.item<float>()).Within(1e-4).Percent);
        Assert.That(split.Prediction.shape, Is.EqualTo(whole.Prediction.shape));
        Assert.That(split.Prediction.allclose(whole.Prediction.detach(), rtol: 1e-5, atol: 1e-6), Is.True);
        var actual = Gradients(net);
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        Assert.That(expected.Values.Sum(g => g.abs().sum().item<float>()), Is.GreaterThan(0));
        foreach (var (name, gradient) in expected)
            Assert.That(actual[name].allclose(gradient, rtol: 1e-4, atol: 1e-7), Is.True,
                $"{name}: largest difference {(actual[name] - gradient).abs().max().item<float>():G3} of {gradient.abs().max().item<float>():G3}");
    }

    [Test]
    public void MoreMicroBatchesThanSamples_RunOnePerSample_AndBadCountsAreRefused()
    {
        using var scope = NewDisposeScope();
        var batch = Systems(2);
        using var net = Network(DynamicsNetworkKind.HFC, 4);
        var calls = new List<long>();
        var output = MicroBatching.ForwardBackward(batch, 5, b => { calls.Add(b.Count); return IntegratedDynamics.Forward(net, b); });
        Assert.That(calls, Is.EqualTo(new long[] { 1, 1 }));
        Assert.That(output.Prediction.shape[0], Is.EqualTo(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => MicroBatching.ForwardBackward(batch, 0, b => IntegratedDynamics.Forward(net, b)));
        var empty = batch.Slice(0, 0);
        Assert.That(() => MicroBatching.ForwardBackward(empty, 2, b => IntegratedDynamics.Forward(net, b)),
            Throws.ArgumentException.With.Message.Contains("no samples"));
    }

    [Test]
    public void Trainer_WithMicroBatches_TakesTheSameStepsAsWithout()
    {
        using var scope = NewDisposeScope();
        var all = Systems(24, seed: 11);
        var seen = new List<long>();
        (Dictionary<string, Tensor> Weights, double[] Losses) Train(int microBatches)
        {
            seen.Clear();
            using var net = Network(DynamicsNetworkKind.HFC, 5);
            using var trainer = new Trainer<DynamicsBatch>(net, b => { seen.Add(b.Count); return IntegratedDynamics.Forward(net, b); }, new Consecutive(all, 10),
                new TrainerOptions { Epochs = 2, LearningRate = 3e-3, ReportEvery = 0, MicroBatches = microBatches, Seed = 1 });
            var result = trainer.Fit();
            return (TrainingTestData.ParameterSnapshot(net), result.History.Select(h => h.TrainingLoss).ToArray());
        }
        var (wholeWeights, wholeLosses) = Train(1);
        Assert.That(seen, Is.EqualTo(new long[] { 10, 10, 4, 10, 10, 4 }));
        var (splitWeights, splitLosses) = Train(3);   // batches of 10, 10 and 4: parts of 4, 3, 3 and of 2, 1, 1
        Assert.That(seen, Is.EqualTo(new long[] { 4, 3, 3, 4, 3, 3, 2, 1, 1, 4, 3, 3, 4, 3, 3, 2, 1, 1 }));
        Assert.That(splitLosses, Is.EqualTo(wholeLosses).Within(1e-4).Percent);
        foreach (var (name, weight) in wholeWeights)
            Assert.That(splitWeights[name].allclose(weight, rtol: 1e-4, atol: 1e-6), Is.True, name);
        using var other = Network(DynamicsNetworkKind.HFC, 6);
        Assert.That(TrainingTestData.ParameterSnapshot(other).Any(kv => !kv.Value.allclose(wholeWeights[kv.Key])), Is.True, "a different initialisation differs");
    }

    [Test]
    public void Trainer_RefusesMicroBatches_WithBatchNormOrBatchesThatCannotBeSliced()
    {
        using var scope = NewDisposeScope();
        var all = Systems(8);
        using var normed = Network(DynamicsNetworkKind.HLieResNet, 1, batchNorm: true);
        Assert.That(() => new Trainer<DynamicsBatch>(normed, b => IntegratedDynamics.Forward(normed, b), new Consecutive(all, 4),
                new TrainerOptions { MicroBatches = 2 }),
            Throws.ArgumentException.With.Message.Contains("batch norm").And.Message.Contains("MaskedBatchNorm"));
        using (new Trainer<DynamicsBatch>(normed, b => IntegratedDynamics.Forward(normed, b), new Consecutive(all, 4), new TrainerOptions())) { }

        var (x, y) = TrainingTestData.Quadrants(16, 1);
        using var mlp = TrainingTestData.Mlp(1);
        Assert.That(() => new Trainer<ToyBatch>(mlp, TrainingTestData.Classifier(mlp), TrainingTestData.Source(x, y, 8), new TrainerOptions { MicroBatches = 2 }),
            Throws.ArgumentException.With.Message.Contains("ISliceableBatch<ToyBatch>"));
        Assert.That(() => MicroBatching.CheckSamplesIndependent(mlp, "model"),
            Throws.ArgumentException.With.Message.Contains("'bn'").And.Message.Contains("BatchNorm1d"));
        Assert.That(() => new TrainerOptions { MicroBatches = 0 }.Validate(), Throws.TypeOf<ArgumentOutOfRangeException>()
            .With.Property(nameof(ArgumentOutOfRangeException.ParamName)).EqualTo(nameof(TrainerOptions.MicroBatches)));
    }

    [Test]
    public void DynamicsBatchSlice_TakesConsecutiveSystems_AndKeepsAOneDimensionalGrid()
    {
        using var scope = NewDisposeScope();
        var systems = Systems(5);
        Assert.That(systems.Times.dim(), Is.EqualTo(1));
        // A grid per system, each shifted by its index, so that the rows tell which system they belong to.
        var batch = systems with { Times = systems.Times.unsqueeze(0) + arange(5, dtype: ScalarType.Float32).unsqueeze(1) };
        var rows = tensor(new long[] { 1, 2, 3 });
        var slice = batch.Slice(1, 3);
        Assert.That(batch.Count, Is.EqualTo(5));
        Assert.That(slice.Count, Is.EqualTo(3));
        Assert.That(slice.InitialState.allclose(batch.InitialState.index_select(0, rows), 0, 0), Is.True);
        Assert.That(slice.SystemParameters.allclose(batch.SystemParameters.index_select(0, rows), 0, 0), Is.True);
        Assert.That(slice.Trajectory!.allclose(batch.Trajectory!.index_select(0, rows), 0, 0), Is.True);
        Assert.That(slice.Times.select(1, 0).data<float>().ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f }));
        var shared = (systems with { Trajectory = null }).Slice(3, 2);
        Assert.That(shared.Times.allclose(systems.Times, 0, 0), Is.True);
        Assert.That(shared.Trajectory, Is.Null);
        Assert.That(shared.InitialState.allclose(systems.InitialState.index_select(0, tensor(new long[] { 3, 4 })), 0, 0), Is.True);
    }

    /// <summary>Consecutive batches of one set, in the same order every epoch.</summary>
    private sealed class Consecutive(DynamicsBatch all, int size) : IBatchSource<DynamicsBatch>
    {
        public int BatchesPerEpoch => (int)((all.Count + size - 1) / size);

        public IEnumerable<DynamicsBatch> Batches(int epoch)
        {
            for (long start = 0; start < all.Count; start += size)
                yield return all.Slice(start, Math.Min(size, all.Count - start));
        }
    }
}
