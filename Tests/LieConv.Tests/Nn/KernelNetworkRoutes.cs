using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>
/// A batch-normalised kernel network's float32 route on the CPU (the passes under test) against the same network in
/// float64 and in float32 through libtorch's operations: output, every gradient (the pairs' included) and the running
/// statistics, each within a few times libtorch's own float32 error of float64.
/// </summary>
internal static class KernelNetworkRoutes
{
    public static WeightNet Network(Activation activation, ScalarType dtype, int pairDim)
    {
        manual_seed(11);
        var net = new WeightNet(pairDim, batchNorm: true, activation);
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

    private static Tensor Mask(WeightNetTests.Rows rows, long clouds, long pairs)
    {
        var generator = new TorchSharp.torch.Generator(5);
        return rows switch
        {
            WeightNetTests.Rows.EveryRowOnce => ones(clouds, pairs, dtype: ScalarType.Bool),
            WeightNetTests.Rows.Masked => rand(new[] { clouds, pairs }, generator: generator) > 0.2,
            _ => randint(0, 5, new[] { clouds, pairs }, generator: generator).to(ScalarType.Float32),
        };
    }

    private static Tensor[] Gradients(Tensor output, Tensor[] inputs)
    {
        foreach (var input in inputs) input.grad = null;
        CustomBackward.Call(() => autograd.backward([output], retain_graph: true, inputs: inputs));
        return inputs.Select(input => input.grad!.detach().clone()).ToArray();
    }

    /// <summary>
    /// Compares the float32 route with float64 on <paramref name="clouds"/> × <paramref name="pairsPerCloud"/> random
    /// pairs; <paramref name="checkRoute"/> runs the float32 network (its argument) and checks which route it took.
    /// </summary>
    public static void AssertFloat32RouteMatchesFloat64(WeightNetTests.Rows rows, Activation activation, bool training, int pairDim,
        long clouds, long pairsPerCloud, Action<Action> checkRoute)
    {
        var net = Network(activation, ScalarType.Float32, pairDim);
        var exact = Network(activation, ScalarType.Float64, pairDim);
        if (!training)
            using (no_grad())
                foreach (var (name, buffer) in net.named_buffers().Where(b => b.name.Contains("running")))
                {
                    buffer.copy_(name.EndsWith("var") ? rand_like(buffer) + 0.5 : randn_like(buffer));
                    exact.named_buffers().Single(b => b.name == name).buffer.copy_(buffer);
                }
        var plain = Network(activation, ScalarType.Float32, pairDim);
        using (no_grad())
            foreach (var (name, buffer) in net.named_buffers())
                plain.named_buffers().Single(b => b.name == name).buffer.copy_(buffer);
        foreach (var network in new[] { net, exact, plain }) network.train(training);
        manual_seed(12);
        var pairs = randn(clouds, pairsPerCloud, pairDim);
        var mask = Mask(rows, clouds, pairsPerCloud);
        var seed = randn(clouds, pairsPerCloud, WeightNet.OutputWidth, dtype: ScalarType.Float64);
        (Tensor Output, Tensor[] Gradients) Run(WeightNet network, ScalarType dtype)
        {
            var input = pairs.to(dtype).requires_grad_();
            var output = network.forward(input, mask.dtype == ScalarType.Bool ? mask : mask.to(dtype));
            return (output, Gradients((output.to(ScalarType.Float64) * seed).sum(), [input, .. network.parameters()]));
        }

        (Tensor Output, Tensor[] Gradients)? underTest = null;
        checkRoute(() => underTest = Run(net, ScalarType.Float32));
        var route = underTest ?? throw new AssertionException("the route check did not run the float32 network");
        var expected = Run(exact, ScalarType.Float64);
        (Tensor Output, Tensor[] Gradients) operations;
        using (HostReads.ActAsAccelerator()) operations = Run(plain, ScalarType.Float32);

        // As close to the float64 network as libtorch's own float32 operations are (their error sets the scale: the
        // gradients of the dense layers before batch norm are sums over thousands of rows that cancel).
        AssertAsClose(expected.Output, route.Output, operations.Output, "output");
        // In training, a dense layer's bias gradient is zero (batch norm takes the mean out): its float32 value is the
        // rounding of terms the size of the layer's weight gradient, which is the scale it is measured against.
        var names = new[] { "pairs" }.Concat(net.named_parameters().Select(p => p.name)).ToArray();
        Assert.Multiple(() =>
        {
            for (int i = 0; i < names.Length; i++)
            {
                bool zero = training && names[i].StartsWith("linears") && names[i].EndsWith("bias");
                var scale = expected.Gradients[zero ? Array.IndexOf(names, names[i].Replace("bias", "weight")) : i];
                AssertAsClose(expected.Gradients[i], route.Gradients[i], operations.Gradients[i], $"gradient of {names[i]}", scale);
            }
        });
        foreach (var (name, buffer) in exact.named_buffers())
            AssertAsClose(buffer, net.named_buffers().Single(b => b.name == name).buffer, plain.named_buffers().Single(b => b.name == name).buffer, name);
    }

    /// <summary>The route's float32 result is within a few times libtorch's float32 error of the float64 one.</summary>
    private static void AssertAsClose(Tensor exact, Tensor route, Tensor operations, string what, Tensor? scaleOf = null)
    {
        var e = exact.detach().to(ScalarType.Float64);
        double LargestDifference(Tensor t) => (t.detach().to(ScalarType.Float64) - e).abs().max().item<double>();
        double scale = (scaleOf ?? e).detach().abs().max().item<double>(), ours = LargestDifference(route), theirs = LargestDifference(operations);
        Assert.That(ours, Is.LessThanOrEqualTo(8 * theirs + 1e-6 * scale),
            $"{what}: largest difference {ours:G3} from float64 (libtorch's float32 operations: {theirs:G3}; largest value {scale:G3})");
    }
}
