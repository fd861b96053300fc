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
    }

    [OneTimeTearDown]
    public void Restore()
    {
        set_num_threads(_threads);
        NormActivationPasses.LoopMinimumEntries = _minimumEntries;
    }

    private static WeightNet Network(Activation activation, ScalarType dtype)
    {
        manual_seed(11);
        var net = new WeightNet((int)PairDim, batchNorm: true, activation);
        using (no_grad())
        {
            foreach (var (name, p) in net.named_parameters())
                if (name.StartsWith("norms")) p.copy_(randn_like(p) * 0.5 + (name.EndsWith("weight") ? 1 : 0));
            // A nearly constant channel: clamped at ε, so its gradient has no x̂ term.
            net.named_parameters().Single(p => p.name == "linears.0.weight").parameter[5].mul_(1e-5);
        }
        net.to(dtype);
        return net;
    }

    private static Tensor Mask(WeightNetTests.Rows rows)
    {
        var generator = new TorchSharp.torch.Generator(5);
        return rows switch
        {
            WeightNetTests.Rows.EveryRowOnce => ones(Clouds, Pairs, dtype: ScalarType.Bool),
            WeightNetTests.Rows.Masked => rand(new[] { Clouds, Pairs }, generator: generator) > 0.2,
            _ => randint(0, 5, new[] { Clouds, Pairs }, generator: generator).to(ScalarType.Float32),
        };
    }

    private static Tensor[] Gradients(Tensor output, Tensor[] inputs)
    {
        foreach (var input in inputs) input.grad = null;
        CustomBackward.Call(() => autograd.backward([output], retain_graph: true, inputs: inputs));
        return inputs.Select(input => input.grad!.detach().clone()).ToArray();
    }

    [TestCase(WeightNetTests.Rows.EveryRowOnce, Activation.Swish, true)]
    [TestCase(WeightNetTests.Rows.Masked, Activation.Swish, true)]
    [TestCase(WeightNetTests.Rows.Weighted, Activation.Swish, true)]
    [TestCase(WeightNetTests.Rows.Masked, Activation.ReLU, true)]
    [TestCase(WeightNetTests.Rows.Masked, Activation.Swish, false)]
    public void InFloat32_TheLoops_GiveTheOutput_Gradients_AndRunningStatistics_OfTheNetworkInFloat64(WeightNetTests.Rows rows, Activation activation, bool training)
    {
        var net = Network(activation, ScalarType.Float32);
        var exact = Network(activation, ScalarType.Float64);
        if (!training)
            using (no_grad())
                foreach (var (name, buffer) in net.named_buffers().Where(b => b.name.Contains("running")))
                {
                    buffer.copy_(name.EndsWith("var") ? rand_like(buffer) + 0.5 : randn_like(buffer));
                    exact.named_buffers().Single(b => b.name == name).buffer.copy_(buffer);
                }
        var plain = Network(activation, ScalarType.Float32);
        using (no_grad())
            foreach (var (name, buffer) in net.named_buffers())
                plain.named_buffers().Single(b => b.name == name).buffer.copy_(buffer);
        foreach (var network in new[] { net, exact, plain }) network.train(training);
        manual_seed(12);
        var pairs = randn(Clouds, Pairs, PairDim);
        var mask = Mask(rows);
        var seed = randn(Clouds, Pairs, WeightNet.OutputWidth, dtype: ScalarType.Float64);
        (Tensor Output, Tensor[] Gradients) Run(WeightNet network, ScalarType dtype)
        {
            var input = pairs.to(dtype).requires_grad_();
            var output = network.forward(input, mask.dtype == ScalarType.Bool ? mask : mask.to(dtype));
            return (output, Gradients((output.to(ScalarType.Float64) * seed).sum(), [input, .. network.parameters()]));
        }

        long before = NormActivationPasses.Loops;
        var loops = Run(net, ScalarType.Float32);
        Assert.That(NormActivationPasses.Loops - before, Is.EqualTo(3 + 3 * 2 + 2),
            "a pass a layer forward, two a layer back, and the inputs of the upper two layers formed again");
        var expected = Run(exact, ScalarType.Float64);
        (Tensor Output, Tensor[] Gradients) operations;
        using (HostReads.ActAsAccelerator()) operations = Run(plain, ScalarType.Float32);

        // As close to the float64 network as libtorch's own float32 operations are (their error sets the scale: the
        // gradients of the dense layers before batch norm are sums over 12,000 rows that cancel).
        AssertAsClose(expected.Output, loops.Output, operations.Output, "output");
        // In training, a dense layer's bias gradient is zero (batch norm takes the mean out): its float32 value is the
        // rounding of terms the size of the layer's weight gradient, which is the scale it is measured against.
        var names = new[] { "pairs" }.Concat(net.named_parameters().Select(p => p.name)).ToArray();
        for (int i = 0; i < names.Length; i++)
        {
            bool zero = training && names[i].StartsWith("linears") && names[i].EndsWith("bias");
            var scale = expected.Gradients[zero ? Array.IndexOf(names, names[i].Replace("bias", "weight")) : i];
            AssertAsClose(expected.Gradients[i], loops.Gradients[i], operations.Gradients[i], $"gradient of {names[i]}", scale);
        }
        foreach (var (name, buffer) in exact.named_buffers())
            AssertAsClose(buffer, net.named_buffers().Single(b => b.name == name).buffer, plain.named_buffers().Single(b => b.name == name).buffer, name);
    }

    [Test]
    public void InFloat64_OrOnFewRows_TheNetworkTakesNoLoop()
    {
        long before = NormActivationPasses.Loops;
        var net = Network(Activation.Swish, ScalarType.Float64);
        net.forward(randn(Clouds, 10, PairDim, dtype: ScalarType.Float64).requires_grad_(), ones(Clouds, 10, dtype: ScalarType.Bool)).sum().backward();
        Assert.That(NormActivationPasses.Loops, Is.EqualTo(before), "float64: libtorch's operations");
        NormActivationPasses.LoopMinimumEntries = Clouds * Pairs * 32 + 1;
        try
        {
            net = Network(Activation.Swish, ScalarType.Float32);
            net.forward(randn(Clouds, Pairs, PairDim).requires_grad_(), ones(Clouds, Pairs, dtype: ScalarType.Bool)).sum().backward();
            Assert.That(NormActivationPasses.Loops, Is.EqualTo(before), "fewer entries than the loops' minimum: libtorch's operations");
        }
        finally
        {
            NormActivationPasses.LoopMinimumEntries = 0;
        }
    }

    /// <summary>The loops' float32 result is within a few times libtorch's float32 error of the float64 one.</summary>
    private static void AssertAsClose(Tensor exact, Tensor loops, Tensor operations, string what, Tensor? scaleOf = null)
    {
        var e = exact.detach().to(ScalarType.Float64);
        double LargestDifference(Tensor t) => (t.detach().to(ScalarType.Float64) - e).abs().max().item<double>();
        double scale = (scaleOf ?? e).detach().abs().max().item<double>(), ours = LargestDifference(loops), theirs = LargestDifference(operations);
        Assert.That(ours, Is.LessThanOrEqualTo(8 * theirs + 1e-6 * scale),
            $"{what}: largest difference {ours:G3} from float64 (libtorch's float32 operations: {theirs:G3}; largest value {scale:G3})");
    }
}
