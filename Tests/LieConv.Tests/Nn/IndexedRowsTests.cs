using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>Rows read by index whose gradient adds them back in one pass: index_select's values and gradients, first and second order.</summary>
[TestFixture]
public class IndexedRowsTests
{
    private static (Tensor Table, Tensor Index) Reads(ScalarType dtype, long rows, long reads, long channels)
    {
        var generator = new TorchSharp.torch.Generator(11);
        var table = randn(new[] { rows, channels }, dtype: dtype, generator: generator).requires_grad_();
        var index = randint(0, rows, new[] { reads }, generator: generator);   // most rows read many times
        return (table, index);
    }

    [TestCase(ScalarType.Float32, 16L)]
    [TestCase(ScalarType.Float64, 5L)]
    public void Values_AndGradients_AreIndexSelects_ToTheBit(ScalarType dtype, long channels)
    {
        var (table, index) = Reads(dtype, 40, 3_000, channels);
        var weights = randn(new[] { 3_000L, channels }, dtype: dtype);
        long before = IndexedRowSum.Loops;
        var rows = IndexedRows.Select(table, index);
        (rows * weights).sum().backward();
        Assert.That(IndexedRowSum.Loops - before, Is.EqualTo(1), "the gradient went through the loop");
        var gradient = table.grad!.clone();
        table.grad!.zero_();
        var expected = table.index_select(0, index);
        (expected * weights).sum().backward();
        Assert.That(NnTestData.Identical(rows.detach(), expected.detach()), Is.True);
        Assert.That(NnTestData.Identical(gradient, table.grad!), Is.True, "each row adds its reads' gradients in the same order as index_add_");
    }

    [Test]
    public void GradientsOfGradients_AreIndexSelects()
    {
        var (table, index) = Reads(ScalarType.Float64, 12, 400, 3);
        Tensor SecondOrder(Func<Tensor, Tensor, Tensor> select)
        {
            // f = Σ w·sin(rows): ∂f/∂table adds w·cos(rows) back; differentiating Σ v·∂f/∂table reads it again.
            var weights = linspace(-1, 1, 1_200, dtype: ScalarType.Float64).view(400, 3);
            var first = autograd.grad([(select(table, index).sin() * weights).sum()], [table], retain_graph: true, create_graph: true)[0];
            var probe = linspace(0.5, 2, 36, dtype: ScalarType.Float64).view(12, 3);
            return autograd.grad([(first * probe).sum()], [table])[0];
        }
        var ours = SecondOrder(IndexedRows.Select);
        var theirs = SecondOrder((t, i) => t.index_select(0, i));
        Assert.That(ours.abs().sum().item<double>(), Is.GreaterThan(0));
        Assert.That(ours.allclose(theirs, rtol: 1e-12, atol: 1e-12), Is.True);
    }

    [Test]
    public void WithoutGradients_OrOffTheHost_IndexSelectDoesIt()
    {
        var (table, index) = Reads(ScalarType.Float32, 30, 500, 16);
        long before = IndexedRowSum.Loops;
        using (no_grad()) Assert.That(NnTestData.Identical(IndexedRows.Select(table, index), table.index_select(0, index)), Is.True);
        Tensor rows;
        using (HostReads.ActAsAccelerator()) rows = IndexedRows.Select(table, index);
        rows.sum().backward();
        Assert.That(IndexedRowSum.Loops, Is.EqualTo(before), "no read by the operation, so no sum by the loop");
        Assert.That(table.grad!.sum().item<float>(), Is.EqualTo(500 * 16).Within(1e-3));
    }
}
