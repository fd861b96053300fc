using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>The Swish operation for twice-differentiated networks against libtorch's silu, to three derivatives.</summary>
[TestFixture]
public class SwishTests
{
    private static Tensor Input() =>
        // Both tails, zero, and the minimum of σ′ near −2.4.
        cat([linspace(-9, 9, 37, dtype: ScalarType.Float64), tensor(new[] { 0.0, -2.3994, -1.2785 }, dtype: ScalarType.Float64)]).requires_grad_();

    private static void AssertClose(Tensor expected, Tensor actual, string what) =>
        Assert.That(allclose(actual, expected, rtol: 1e-12, atol: 1e-12), Is.True,
            $"{what}: largest difference {(actual - expected).abs().max().item<double>()}");

    /// <summary>The value and the first three derivatives of Σ w·f(x) by x, and the second's derivative by the incoming gradient.</summary>
    private static Tensor[] Derivatives(Func<Tensor, Tensor> f, Tensor x)
    {
        var w = linspace(0.5, 1.5, x.shape[0], dtype: ScalarType.Float64);
        var y = f(x);
        var first = autograd.grad([(y * w).sum()], [x], retain_graph: true, create_graph: true)[0];
        var second = autograd.grad([first.square().sum()], [x], retain_graph: true, create_graph: true)[0];
        var third = autograd.grad([(second * w).sum()], [x])[0];
        return [y.detach(), first.detach(), second.detach(), third];
    }

    [Test]
    public void ValueAndDerivatives_AreThoseOfLibtorchsSilu()
    {
        using var scope = NewDisposeScope();
        var expected = Derivatives(x => nn.functional.silu(x), Input());
        var actual = Derivatives(Swish.Compute, Input());
        string[] names = ["value", "first derivative", "second derivative", "third derivative"];
        for (int i = 0; i < names.Length; i++)
            AssertClose(expected[i], actual[i], names[i]);
    }

    [Test]
    public void TheActivation_TakesTheSwishOperation_OnlyWhereSecondOrderGradientsAreExpected()
    {
        using var scope = NewDisposeScope();
        Assert.That(ActivationFunctions.TakesSecondOrderRoute, Is.False, "unmarked");
        using (SecondOrderGradients.Begin())
        {
            Assert.That(ActivationFunctions.TakesSecondOrderRoute, Is.True, "marked");
            using (SecondOrderGradients.Begin()) Assert.That(ActivationFunctions.TakesSecondOrderRoute, Is.True, "marked twice");
            Assert.That(ActivationFunctions.TakesSecondOrderRoute, Is.True, "still marked by the outer scope");
            using (no_grad()) Assert.That(ActivationFunctions.TakesSecondOrderRoute, Is.False, "marked, without gradients");
            // The same values and derivatives either way.
            var expected = Derivatives(x => nn.functional.silu(x), Input());
            var actual = Derivatives(x => Activation.Swish.Apply(x), Input());
            for (int i = 0; i < expected.Length; i++) AssertClose(expected[i], actual[i], $"derivative {i}");
        }
        Assert.That(ActivationFunctions.TakesSecondOrderRoute, Is.False, "the mark ends with its scope");
    }

    [Test]
    public void TheMark_BelongsToItsThread()
    {
        using (SecondOrderGradients.Begin())
        {
            bool elsewhere = true;
            var thread = new Thread(() => elsewhere = SecondOrderGradients.Expected);
            thread.Start();
            thread.Join();
            Assert.That(elsewhere, Is.False);
        }
    }
}
