using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.Runtime;

/// <summary>The copies TorchSharp keeps of custom functions' outputs are freed, and the functions still differentiate.</summary>
[TestFixture]
public class UnusedOutputCopiesTests
{
    [Test]
    public void EachOutputsCopyIsFreed_AndGradientsStillFlow()
    {
        var x = randn(5, 3, dtype: ScalarType.Float64).requires_grad_();
        long before = UnusedOutputCopies.Freed;
        var y = Swish.Compute(x);
        Assert.That(UnusedOutputCopies.Freed - before, Is.EqualTo(1),
            "one output, one copy freed (none: TorchSharp's node no longer keeps them where UnusedOutputCopies looks)");
        y.sum().backward();
        var s = x.detach().sigmoid();
        Assert.That(allclose(x.grad!, s * (1 + x.detach() * (1 - s)), rtol: 1e-12, atol: 1e-12), Is.True, "Swish's gradient");
    }

    [Test]
    public void WithoutAGraph_ThereIsNoCopy_AndNothingIsFreed()
    {
        var x = randn(5, 3, dtype: ScalarType.Float64);
        long before = UnusedOutputCopies.Freed;
        Swish.Compute(x);
        using (no_grad()) Swish.Compute(x.requires_grad_());
        Assert.That(UnusedOutputCopies.Freed, Is.EqualTo(before));
    }
}
