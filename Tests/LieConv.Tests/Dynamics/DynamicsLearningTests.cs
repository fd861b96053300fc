using LieConv.Datasets.Springs;
using LieConv.Models.Dynamics;
using LieConv.Tests.Nn;
using LieConv.Training;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using RungeKutta = LieConv.Numerics.RungeKutta;

namespace LieConv.Tests.Dynamics;

/// <summary>Brief training on a small generated spring set, through the Core trainer and the integrated-dynamics task.</summary>
[TestFixture]
public sealed class DynamicsLearningTests : SingleThreadedFixture
{
    /// <summary>q(t) = q₀ + (p₀/m)(t − t₀), p(t) = p₀: what a model that learned no forces at all would predict.</summary>
    private static Tensor ConstantVelocity(DynamicsBatch batch, int particles)
    {
        long b = batch.InitialState.shape[0], size = batch.InitialState.shape[1], half = size / 2;
        var q0 = batch.InitialState.narrow(1, 0, half).reshape(b, particles, -1);
        var p0 = batch.InitialState.narrow(1, half, half).reshape(b, particles, -1);
        var velocity = (p0 / batch.SystemParameters.select(-1, 0).unsqueeze(-1)).flatten(1);         // (B, nd)
        var elapsed = (batch.Times - batch.Times.narrow(1, 0, 1)).unsqueeze(-1);                     // (B, T, 1)
        var q = q0.flatten(1).unsqueeze(1) + elapsed * velocity.unsqueeze(1);
        var p = p0.flatten(1).unsqueeze(1).expand(q.shape);
        return cat([q, p], dim: -1);
    }

    [Test]
    public void SmallHLieResNet_BeatsAConstantVelocityPredictor_AfterBriefTraining()
    {
        using var scope = NewDisposeScope();
        var systems = SpringsTestData.Generate(140, steps: 50);
        var dataset = new SpringsDataset(systems, new SpringsDatasetOptions { TrainCount = 100, TestCount = 40, ValidationCount = 0, Seed = 1 });
        var train = SpringsTestData.Batch(dataset, SpringsSplit.Train);
        var test = SpringsTestData.Batch(dataset, SpringsSplit.Test);

        manual_seed(11);
        using var net = new DynamicsNetworkOptions { Network = DynamicsNetworkKind.HLieResNet, Channels = 32, Layers = 2 }.Create();
        using var trainer = new Trainer<DynamicsBatch>(net, b => IntegratedDynamics.Forward(net, b), new Slices(train, 20),
            new TrainerOptions { Epochs = 15, LearningRate = 3e-3, ReportEvery = 0, Seed = 11 },
            new Slices(test, 40), IntegratedDynamics.ValidationMetrics);
        var result = trainer.Fit();

        double learned = result.History[^1].ValidationMetrics[IntegratedDynamics.MseMetric];
        double constantVelocity = Losses.MeanSquaredError(ConstantVelocity(test, 6), test.Trajectory!).item<float>();
        TestContext.Out.WriteLine($"HLieResNet test MSE {learned:G4} (first epoch {result.History[0].ValidationMetrics[IntegratedDynamics.MseMetric]:G4}); constant velocity {constantVelocity:G4}");
        Assert.That(learned, Is.LessThan(constantVelocity));
        Assert.That(learned, Is.LessThan(result.History[0].ValidationMetrics[IntegratedDynamics.MseMetric]));
    }

    [Test]
    public void RolloutAndEnergyMetrics_OfTheTrueFieldAreNearZero_AndOfConstantVelocityAreNot()
    {
        using var scope = NewDisposeScope();
        var systems = SpringsTestData.Generate(8, steps: 120);
        var truth = systems.TrajectoriesTensor();
        var parameters = systems.ParametersTensor();
        var masses = parameters.select(-1, 0);
        var springs = parameters.select(-1, 1);
        var times = systems.TimesTensor();
        var integrated = RungeKutta.Integrate((_, z) => SpringHamiltonian.VectorField(z, masses, springs), truth.select(1, 0), times, keepGraph: false);
        Tensor Energy(Tensor trajectory) => SpringHamiltonian.Energy(trajectory, masses.unsqueeze(1), springs.unsqueeze(1));

        Assert.That(DynamicsMetrics.RolloutMeanSquaredError(integrated, truth, 100).item<double>(), Is.LessThan(1e-20));
        Assert.That(DynamicsMetrics.RelativeEnergyDrift(integrated, Energy).item<double>(), Is.LessThan(1e-3));

        var frozen = truth.select(1, 0).unsqueeze(1).expand(truth.shape);   // nothing moves: wrong, but conserves nothing useful either
        Assert.That(DynamicsMetrics.RolloutMeanSquaredError(frozen, truth, 100).item<double>(), Is.GreaterThan(1e-3));
        Assert.That(DynamicsMetrics.RolloutMeanSquaredError(frozen, truth, 1).item<double>(), Is.EqualTo(0));
        var scaled = truth * 1.1;
        Assert.That(DynamicsMetrics.RelativeEnergyDrift(cat([truth.narrow(1, 0, 1), scaled.narrow(1, 1, 119)], dim: 1), Energy).item<double>(),
            Is.EqualTo(0.21).Within(1e-4));   // 1.1² − 1, up to the integrator's own tiny energy error
        Assert.Throws<ArgumentException>(() => DynamicsMetrics.RolloutMeanSquaredError(frozen, truth, 121));
    }

    /// <summary>Consecutive slices of one batch, in a new order every epoch.</summary>
    private sealed class Slices(DynamicsBatch all, int size) : IBatchSource<DynamicsBatch>
    {
        private readonly long count = all.InitialState.shape[0];

        public int BatchesPerEpoch => (int)((count + size - 1) / size);

        public IEnumerable<DynamicsBatch> Batches(int epoch)
        {
            // Host indices: a tensor made here would be freed with the first batch's dispose scope.
            var order = Enumerable.Range(0, (int)count).Select(i => (long)i).ToArray();
            new Random(epoch + 1).Shuffle(order);
            for (long start = 0; start < count; start += size)
            {
                var rows = tensor(order[(int)start..(int)Math.Min(start + size, count)]);
                yield return new DynamicsBatch(all.InitialState.index_select(0, rows), all.SystemParameters.index_select(0, rows),
                    all.Times.index_select(0, rows), all.Trajectory!.index_select(0, rows));
            }
        }
    }
}
