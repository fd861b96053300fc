using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>
/// The batch-normalised kernel network as one operation (<see cref="WeightNetFunction"/>) against the network written
/// out here from its parameters: outputs, every gradient, running statistics and gradients of gradients.
/// </summary>
[TestFixture]
public class WeightNetTests : SingleThreadedFixture
{
    private const long Clouds = 2, Pairs = 6, PairDim = 3;

    /// <summary>How the rows count in the batch statistics.</summary>
    public enum Rows { EveryRowOnce, Masked, Weighted }

    private static (WeightNet Net, Tensor Pairs, Tensor Mask, Tensor RowWeights) Setup(Rows rows, Activation activation, int seed)
    {
        manual_seed(seed);
        var net = new WeightNet((int)PairDim, batchNorm: true, activation);
        net.to(ScalarType.Float64);
        using (no_grad())
        {
            foreach (var (name, p) in net.named_parameters())
                if (name.StartsWith("norms")) p.copy_(randn_like(p) * 0.5 + (name.EndsWith("weight") ? 1 : 0));
            // A nearly constant channel in the first layer: its batch variance (about 1e-8) is clamped at ε, so its
            // gradient has no x̂ term, while x̂ itself is not 0.
            Parameter(net, "linears.0.weight")[5].mul_(1e-4);
        }
        var pairs = randn(Clouds, Pairs, PairDim, dtype: ScalarType.Float64).requires_grad_();
        var mask = rows switch
        {
            Rows.EveryRowOnce => ones(Clouds, Pairs, dtype: ScalarType.Bool),
            Rows.Masked => tensor(new[] { true, true, false, true, true, true, false, true, true, true, true, false }).view(Clouds, Pairs),
            _ => tensor(new[] { 1.0, 3, 0, 2, 1, 1, 0, 4, 1, 2, 1, 1 }, dtype: ScalarType.Float64).view(Clouds, Pairs),
        };
        return (net, pairs, mask, mask.to(ScalarType.Float64).flatten());
    }

    private static Tensor Parameter(WeightNet net, string name) => net.named_parameters().Single(p => p.name == name).parameter;
    private static Tensor Buffer(WeightNet net, string name) => net.named_buffers().Single(b => b.name == name).buffer;

    /// <summary>The network written out: Linear → batch norm with weighted statistics (or the given running ones) → act, three times.</summary>
    private static Tensor Reference(WeightNet net, Tensor pairs, Tensor rowWeights, Activation activation, (Tensor Mean, Tensor Variance)[]? running = null)
    {
        var h = pairs.reshape(-1, PairDim);
        var w = rowWeights.unsqueeze(1);
        for (int l = 0; l < 3; l++)
        {
            var z = h.matmul(Parameter(net, $"linears.{l}.weight").t()) + Parameter(net, $"linears.{l}.bias");
            var (mean, variance) = running?[l] ?? ((w * z).sum(0L, false) / w.sum(), (w * (z - (w * z).sum(0L, false) / w.sum()).square()).sum(0L, false) / w.sum());
            var y = (z - mean) / variance.clamp_min(1e-5).sqrt() * Parameter(net, $"norms.{l}.weight") + Parameter(net, $"norms.{l}.bias");
            h = activation == Activation.Swish ? y * y.sigmoid() : y.relu();
        }
        return h.view(Clouds, Pairs, WeightNet.OutputWidth);
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what) =>
        Assert.That(allclose(actual, expected, rtol: 1e-9, atol: 1e-9), Is.True,
            $"{what}: largest difference {(actual - expected).abs().max().item<double>()}");

    /// <summary>
    /// Gradients of <paramref name="output"/> by <paramref name="inputs"/> through <c>backward(inputs)</c>, which turns a
    /// failing backward pass into an exception (TorchSharp's <c>autograd.grad</c> would end the process).
    /// </summary>
    private static Tensor[] Gradients(Tensor output, Tensor[] inputs, bool createGraph = false)
    {
        foreach (var input in inputs) input.grad = null;
        CustomBackward.Call(() => autograd.backward([output], retain_graph: true, create_graph: createGraph, inputs: inputs));
        var gradients = inputs.Select(input => input.grad ?? zeros_like(input)).ToArray();
        foreach (var input in inputs) input.grad = null;
        return gradients;
    }

    private static Tensor[] Differentiable(WeightNet net, Tensor pairs) => [pairs, .. net.parameters()];

    [TestCase(Rows.EveryRowOnce, Activation.Swish)]
    [TestCase(Rows.Masked, Activation.Swish)]
    [TestCase(Rows.Weighted, Activation.Swish)]
    [TestCase(Rows.Masked, Activation.ReLU)]
    public void Training_GivesTheLayersOutputs_Gradients_AndRunningStatistics(Rows rows, Activation activation)
    {
        var (net, pairs, mask, rowWeights) = Setup(rows, activation, seed: 1);
        net.train();
        var seed = randn(Clouds, Pairs, WeightNet.OutputWidth, dtype: ScalarType.Float64);
        var expected = Reference(net, pairs, rowWeights, activation);
        var expectedGradients = Gradients((expected * seed).sum(), Differentiable(net, pairs));

        var actual = net.forward(pairs, mask);
        AssertClose(expected, actual, "output");
        var gradients = Gradients((actual * seed).sum(), Differentiable(net, pairs));
        var names = new[] { "pairs" }.Concat(net.named_parameters().Select(p => p.name)).ToArray();
        for (int i = 0; i < names.Length; i++)
            AssertClose(expectedGradients[i], gradients[i], $"gradient of {names[i]}");

        // Momentum 0.1 from (0, 1) towards the batch's mean and unbiased variance.
        var h = pairs.detach().reshape(-1, PairDim);
        var w = rowWeights.unsqueeze(1);
        for (int l = 0; l < 3; l++)
        {
            var z = h.matmul(Parameter(net, $"linears.{l}.weight").detach().t()) + Parameter(net, $"linears.{l}.bias").detach();
            var mean = (w * z).sum(0L, false) / w.sum();
            var spread = (w * (z - mean).square()).sum(0L, false);
            AssertClose(0.1 * mean, Buffer(net, $"norms.{l}.running_mean"), $"running mean of layer {l}");
            AssertClose(0.9 + 0.1 * spread / (w.sum() - 1), Buffer(net, $"norms.{l}.running_var"), $"running variance of layer {l}");
            var y = (z - mean) / (spread / w.sum()).clamp_min(1e-5).sqrt() * Parameter(net, $"norms.{l}.weight").detach() + Parameter(net, $"norms.{l}.bias").detach();
            h = activation == Activation.Swish ? y * y.sigmoid() : y.relu();
        }
    }

    [Test]
    public void Evaluation_WithGradients_UsesTheRunningStatistics_AndMatchesTheNetworkWithout()
    {
        var (net, pairs, mask, rowWeights) = Setup(Rows.Masked, Activation.Swish, seed: 2);
        using (no_grad())
            for (int l = 0; l < 3; l++)
            {
                Buffer(net, $"norms.{l}.running_mean").copy_(randn_like(Buffer(net, $"norms.{l}.running_mean")));
                Buffer(net, $"norms.{l}.running_var").copy_(rand_like(Buffer(net, $"norms.{l}.running_var")) + 0.5);
            }
        Buffer(net, "norms.2.running_var")[3] = tensor(1e-7, ScalarType.Float64);   // clamped at ε
        net.eval();
        var running = Enumerable.Range(0, 3).Select(l => (Buffer(net, $"norms.{l}.running_mean").clone(), Buffer(net, $"norms.{l}.running_var").clone())).ToArray();
        var seed = randn(Clouds, Pairs, WeightNet.OutputWidth, dtype: ScalarType.Float64);
        var expected = Reference(net, pairs, rowWeights, Activation.Swish, running);
        var expectedGradients = Gradients((expected * seed).sum(), Differentiable(net, pairs));

        var actual = net.forward(pairs, mask);
        AssertClose(expected, actual, "output");
        var gradients = Gradients((actual * seed).sum(), Differentiable(net, pairs));
        for (int i = 0; i < gradients.Length; i++)
            AssertClose(expectedGradients[i], gradients[i], $"gradient {i}");
        using (no_grad())
            AssertClose(expected, net.forward(pairs, mask), "output without gradients (the layers one by one)");
        for (int l = 0; l < 3; l++)
            AssertClose(running[l].Item1, Buffer(net, $"norms.{l}.running_mean"), "running mean, untouched in evaluation");
    }

    /// <summary>A gradient penalty (or any gradient differentiated again) gets exact second derivatives.</summary>
    [TestCase(Rows.Weighted)]
    [TestCase(Rows.EveryRowOnce)]
    public void GradientsOfGradients_MatchThoseOfTheLayers(Rows rows)
    {
        var (net, pairs, mask, rowWeights) = Setup(rows, Activation.Swish, seed: 3);
        net.train();
        var seed = randn(Clouds, Pairs, WeightNet.OutputWidth, dtype: ScalarType.Float64);
        Tensor[] SecondOrder(Tensor output)
        {
            var byPairs = Gradients((output * seed).sum(), [pairs], createGraph: true)[0];
            return Gradients(byPairs.square().sum(), Differentiable(net, pairs));
        }
        var expected = SecondOrder(Reference(net, pairs, rowWeights, Activation.Swish));
        var actual = SecondOrder(net.forward(pairs, mask));
        for (int i = 0; i < actual.Length; i++)
            AssertClose(expected[i], actual[i], $"second-order gradient {i}");
    }

    /// <summary>Marked for a Hamiltonian field's second differentiation, the network keeps its layers (and their lean Swish): the same values and gradients of gradients.</summary>
    [Test]
    public void UnderTheSecondOrderMark_TheSameOutput_AndGradientsOfGradients()
    {
        var (net, pairs, mask, rowWeights) = Setup(Rows.Masked, Activation.Swish, seed: 4);
        net.train();
        var seed = randn(Clouds, Pairs, WeightNet.OutputWidth, dtype: ScalarType.Float64);
        Tensor[] SecondOrder(Tensor output)
        {
            var byPairs = Gradients((output * seed).sum(), [pairs], createGraph: true)[0];
            return [output, .. Gradients(byPairs.square().sum(), Differentiable(net, pairs))];
        }
        var expected = SecondOrder(Reference(net, pairs, rowWeights, Activation.Swish));
        Tensor[] actual;
        using (SecondOrderGradients.Begin())
            actual = SecondOrder(net.forward(pairs, mask));
        for (int i = 0; i < actual.Length; i++)
            AssertClose(expected[i], actual[i], i == 0 ? "output" : $"second-order gradient {i - 1}");
    }
}
