using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>
/// The kernel network's elementwise passes as C# loops (float32 on the CPU, <see cref="NormActivationPasses"/>):
/// through the public <see cref="WeightNet"/>, outputs, every gradient and the running statistics against the same
/// network in float64, whose route (libtorch's operations) <see cref="WeightNetTests"/> checks against the layers
/// written out.
/// </summary>
[TestFixture]
public class NormActivationPassesTests
{
    /// <summary>Enough rows for two bands of threads and many blocks of sums, and a width that is no whole vector (20).</summary>
    private const long Clouds = 3, Pairs = 4_000, PairDim = 3;

    private int _threads;
    private long _minimumEntries;

    [OneTimeSetUp]
    public void UseTwoThreads_AndTheLoopsOnSmallRows()
    {
        _threads = get_num_threads();
        set_num_threads(2);
        _minimumEntries = NormActivationPasses.LoopMinimumEntries;
        NormActivationPasses.LoopMinimumEntries = 0;
        KernelNetworkPasses.Enabled = false;   // the layer-by-layer route, which networks the passes do not take go
    }

    [OneTimeTearDown]
    public void Restore()
    {
        set_num_threads(_threads);
        NormActivationPasses.LoopMinimumEntries = _minimumEntries;
        KernelNetworkPasses.Enabled = true;
    }

    [TestCase(WeightNetTests.Rows.EveryRowOnce, Activation.Swish, true)]
    [TestCase(WeightNetTests.Rows.Masked, Activation.Swish, true)]
    [TestCase(WeightNetTests.Rows.Weighted, Activation.Swish, true)]
    [TestCase(WeightNetTests.Rows.Masked, Activation.ReLU, true)]
    [TestCase(WeightNetTests.Rows.Masked, Activation.Swish, false)]
    public void InFloat32_TheLoops_GiveTheOutput_Gradients_AndRunningStatistics_OfTheNetworkInFloat64(WeightNetTests.Rows rows, Activation activation, bool training)
    {
        KernelNetworkRoutes.AssertFloat32RouteMatchesFloat64(rows, activation, training, (int)PairDim, Clouds, Pairs, run =>
        {
            long before = NormActivationPasses.Loops;
            run();
            Assert.That(NormActivationPasses.Loops - before, Is.EqualTo(3 + 3 * 2 + 2),
                "a pass a layer forward, two a layer back, and the inputs of the upper two layers formed again");
        });
    }

    [Test]
    public void InFloat64_OrOnFewRows_TheNetworkTakesNoLoop()
    {
        long before = NormActivationPasses.Loops;
        var net = KernelNetworkRoutes.Network(Activation.Swish, ScalarType.Float64, (int)PairDim);
        net.forward(randn(Clouds, 10, PairDim, dtype: ScalarType.Float64).requires_grad_(), ones(Clouds, 10, dtype: ScalarType.Bool)).sum().backward();
        Assert.That(NormActivationPasses.Loops, Is.EqualTo(before), "float64: libtorch's operations");
        NormActivationPasses.LoopMinimumEntries = Clouds * Pairs * 32 + 1;
        try
        {
            net = KernelNetworkRoutes.Network(Activation.Swish, ScalarType.Float32, (int)PairDim);
            net.forward(randn(Clouds, Pairs, PairDim).requires_grad_(), ones(Clouds, Pairs, dtype: ScalarType.Bool)).sum().backward();
            Assert.That(NormActivationPasses.Loops, Is.EqualTo(before), "fewer entries than the loops' minimum: libtorch's operations");
        }
        finally
        {
            NormActivationPasses.LoopMinimumEntries = 0;
        }
    }
}
