using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>
/// The whole kernel network as passes over its rows (float32 on the CPU, <see cref="KernelNetworkPasses"/>): through
/// the public <see cref="WeightNet"/>, outputs, every gradient (the pairs' included) and the running statistics against
/// the same network in float64, whose route (libtorch's operations) <see cref="WeightNetTests"/> checks against the
/// layers written out.
/// </summary>
[TestFixture]
public class KernelNetworkPassesTests
{
    /// <summary>Enough rows for two bands of threads, many tiles and a last block of rows that is not whole (12,001).</summary>
    private const long Clouds = 1, Pairs = 12_001;

    private int _threads;
    private long _minimumRows;

    [OneTimeSetUp]
    public void UseTwoThreads_AndThePassesOnSmallNetworks()
    {
        _threads = get_num_threads();
        set_num_threads(2);
        _minimumRows = KernelNetworkPasses.MinimumRows;
        KernelNetworkPasses.MinimumRows = 0;
    }

    [OneTimeTearDown]
    public void Restore()
    {
        set_num_threads(_threads);
        KernelNetworkPasses.MinimumRows = _minimumRows;
    }

    private static IEnumerable<TestCaseData> Networks()
    {
        var cases = new (WeightNetTests.Rows Rows, Activation Activation, bool Training, int PairDim)[]
        {
            (WeightNetTests.Rows.EveryRowOnce, Activation.Swish, true, 3), (WeightNetTests.Rows.Masked, Activation.Swish, true, 3),
            (WeightNetTests.Rows.Weighted, Activation.Swish, true, 2), (WeightNetTests.Rows.Masked, Activation.ReLU, true, 3),
            (WeightNetTests.Rows.Masked, Activation.Swish, false, 3), (WeightNetTests.Rows.Weighted, Activation.Swish, true, 10),
        };
        // Both widths of vectors everywhere: 512-bit ones are emulated (slowly, correctly) where the CPU lacks them.
        foreach (bool widest in new[] { true, false })
            foreach (var c in cases)
                yield return new TestCaseData(c.Rows, c.Activation, c.Training, c.PairDim, widest);
    }

    [TestCaseSource(nameof(Networks))]
    public void InFloat32_ThePasses_GiveTheOutput_Gradients_AndRunningStatistics_OfTheNetworkInFloat64(
        WeightNetTests.Rows rows, Activation activation, bool training, int pairDim, bool widestVectors)
    {
        bool widest = KernelNetworkPasses.WidestVectors;
        KernelNetworkPasses.WidestVectors = widestVectors;
        try
        {
            KernelNetworkRoutes.AssertFloat32RouteMatchesFloat64(rows, activation, training, pairDim, Clouds, Pairs, run =>
            {
                long before = KernelNetworkPasses.Runs;
                run();
                Assert.That(KernelNetworkPasses.Runs - before, Is.EqualTo(2), "the forward and the backward pass");
            });
        }
        finally
        {
            KernelNetworkPasses.WidestVectors = widest;
        }
    }

    [Test]
    public void InFloat64_OnFewRows_OrSwitchedOff_TheNetworkTakesLibTorchsOperations()
    {
        long before = KernelNetworkPasses.Runs;
        var net = KernelNetworkRoutes.Network(Activation.Swish, ScalarType.Float64, 3);
        net.forward(randn(Clouds, 10, 3, dtype: ScalarType.Float64).requires_grad_(), ones(Clouds, 10, dtype: ScalarType.Bool)).sum().backward();
        Assert.That(KernelNetworkPasses.Runs, Is.EqualTo(before), "float64: libtorch's operations");
        net = KernelNetworkRoutes.Network(Activation.Swish, ScalarType.Float32, 3);
        KernelNetworkPasses.MinimumRows = Clouds * Pairs + 1;
        try
        {
            net.forward(randn(Clouds, Pairs, 3).requires_grad_(), ones(Clouds, Pairs, dtype: ScalarType.Bool)).sum().backward();
            Assert.That(KernelNetworkPasses.Runs, Is.EqualTo(before), "fewer rows than the passes' minimum: libtorch's operations");
        }
        finally
        {
            KernelNetworkPasses.MinimumRows = 0;
        }
        net.forward(randn(Clouds, Pairs, 3).requires_grad_(), ones(Clouds, Pairs, dtype: ScalarType.Bool)).sum().backward();
        Assert.That(KernelNetworkPasses.Runs, Is.EqualTo(before + 2), "float32 on the CPU: the passes forward and backward");
    }
}
