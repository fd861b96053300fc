using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>The CPU loop that adds rows by index gives libtorch's index_add_ to the bit, and hands over where it must.</summary>
[TestFixture]
public class IndexedRowSumTests
{
    private static (Tensor Index, Tensor Rows) Pairs(ScalarType dtype, long count, long pairs, long channels)
    {
        var generator = new TorchSharp.torch.Generator(7);
        var index = randint(0, count, new[] { pairs }, generator: generator);
        var rows = randn(new[] { pairs, channels }, dtype: dtype, generator: generator);
        return (index, rows);
    }

    [TestCase(ScalarType.Float32, 37L)]    // a vector and a remainder per row (8 floats a vector on AVX2)
    [TestCase(ScalarType.Float32, 32L)]
    [TestCase(ScalarType.Float64, 3L)]     // no whole vector
    [TestCase(ScalarType.Float64, 16L)]
    public void OnTheCpu_TheLoopSums_AsIndexAddDoes(ScalarType dtype, long channels)
    {
        var (index, rows) = Pairs(dtype, 50, 4_000, channels);
        long before = IndexedRowSum.Loops;
        var sum = IndexedRowSum.Compute(50, index, rows);
        Assert.That(IndexedRowSum.Loops - before, Is.EqualTo(1), "the CPU loop took it");
        var expected = zeros(new[] { 50L, channels }, dtype: dtype).index_add_(0, index, rows, 1);
        Assert.That(sum.dtype, Is.EqualTo(dtype));
        Assert.That(sum.shape, Is.EqualTo(new[] { 50L, channels }));
        Assert.That(NnTestData.Identical(sum, expected), Is.True, "the same floats: each row adds its contributions in the same order");
    }

    [Test]
    public void RowsThatAreAView_AreReadInTheirOwnOrder()
    {
        var (index, rows) = Pairs(ScalarType.Float32, 20, 300, 12);
        var view = rows.t().contiguous().t();            // same values, column-major
        var everyOther = index.repeat_interleave(2).narrow(0, 0, 300);
        var sum = IndexedRowSum.Compute(20, everyOther, view);
        var expected = zeros(20, 12).index_add_(0, everyOther, rows, 1);
        Assert.That(NnTestData.Identical(sum, expected), Is.True);
    }

    [Test]
    public void AnIndexOutsideTheSum_Throws_NamingTheRow()
    {
        var rows = ones(4, 8);
        var index = tensor(new long[] { 0, 2, 5, 1 });
        var error = Assert.Throws<IndexOutOfRangeException>(() => IndexedRowSum.Compute(5, index, rows));
        Assert.That(error!.Message, Does.Contain("Row 2").And.Contain("row 5").And.Contain("5 rows"));
        Assert.Throws<IndexOutOfRangeException>(() => IndexedRowSum.Compute(5, tensor(new long[] { 0, -1, 1, 1 }), rows));
    }

    [Test]
    public void RowsWhoseGraphIsRecorded_GoToIndexAdd_AndDifferentiate()
    {
        var (index, rows) = Pairs(ScalarType.Float64, 10, 200, 5);
        rows.requires_grad_();
        long before = IndexedRowSum.Loops;
        var sum = IndexedRowSum.Compute(10, index, rows);
        Assert.That(IndexedRowSum.Loops, Is.EqualTo(before), "a recorded sum is libtorch's");
        var weights = randn(10, 5, dtype: ScalarType.Float64);
        (sum * weights).sum().backward();
        Assert.That(NnTestData.Identical(rows.grad!, weights.index_select(0, index)), Is.True, "the gradient of a row is its destination's weight");
    }

    [Test]
    public void WhereHostReadsAreNotFree_IndexAddDoesIt()
    {
        var (index, rows) = Pairs(ScalarType.Float32, 30, 500, 16);
        long before = IndexedRowSum.Loops;
        Tensor sum;
        using (HostReads.ActAsAccelerator()) sum = IndexedRowSum.Compute(30, index, rows);
        Assert.That(IndexedRowSum.Loops, Is.EqualTo(before), "a GPU's route: libtorch's operation");
        Assert.That(NnTestData.Identical(sum, zeros(30, 16).index_add_(0, index, rows, 1)), Is.True);
    }
}
