using LieConv.Nn;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>The distinct rows of a tensor, bit for bit, in order of first appearance, and which of them each row is.</summary>
[TestFixture]
public class DistinctRowsTests
{
    [TestCase(ScalarType.Float32, 2L)]
    [TestCase(ScalarType.Float64, 3L)]
    public void FindsEachDistinctRowOnce_InOrderOfFirstAppearance_AndWhichEachRowIs(ScalarType dtype, long width)
    {
        // 3,000 rows drawn from 40 values (each made of small integers, so many repeat), then −0 in place of a 0.
        var generator = new TorchSharp.torch.Generator(5);
        var values = randint(-2, 3, new[] { 40L, width }, generator: generator).to(dtype) / 7;
        var rows = values.index_select(0, randint(0, 40, new[] { 3000L }, generator: generator));
        rows[17, 0] = tensor(-0.0, dtype: dtype);
        var (distinct, inverse) = DistinctRows.Find(rows)!.Value;

        Assert.That(distinct.dtype, Is.EqualTo(dtype));
        var pointedAt = distinct.index_select(0, inverse);
        Assert.That(Enumerable.Range(0, 3000).Select(i => Key(pointedAt[i])), Is.EqualTo(Enumerable.Range(0, 3000).Select(i => Key(rows[i]))),
            "each row is, bit for bit, the distinct row it points at");
        var keys = Enumerable.Range(0, (int)distinct.shape[0]).Select(i => Key(distinct[i])).ToList();
        Assert.That(keys, Is.Unique, "no distinct row twice");
        var firstSeen = Enumerable.Range(0, (int)rows.shape[0]).Select(i => Key(rows[i])).Distinct().ToList();
        Assert.That(keys, Is.EqualTo(firstSeen), "in order of first appearance");
        double negativeZero = rows[17, 0].to(ScalarType.Float64).item<double>();
        Assert.That(negativeZero == 0 && double.IsNegative(negativeZero), Is.True);
        Assert.That(keys, Does.Contain(Key(rows[17])), "−0 is a bit pattern of its own");
    }

    [Test]
    public void GivesUp_WhenMoreThanTheFractionAreDistinct()
    {
        var rows = cat(new[] { arange(60, dtype: ScalarType.Float32), arange(40, dtype: ScalarType.Float32) }).view(100, 1);   // 60 distinct of 100
        Assert.That(DistinctRows.Find(rows, mostDistinct: 0.59), Is.Null);
        Assert.That(DistinctRows.Find(rows, mostDistinct: 0.6)!.Value.Distinct.shape[0], Is.EqualTo(60));
        Assert.That(DistinctRows.Find(zeros(0, 2))!.Value.Distinct.shape, Is.EqualTo(new long[] { 0, 2 }));
    }

    [Test]
    public void RejectsWhatIsNotAFloatMatrix()
    {
        Assert.Throws<ArgumentException>(() => DistinctRows.Find(zeros(3)));
        Assert.Throws<ArgumentException>(() => DistinctRows.Find(zeros(new long[] { 3, 2 }, dtype: ScalarType.Int64)));
    }

    private static string Key(Tensor row) =>
        string.Join(",", row.to(ScalarType.Float64).data<double>().ToArray().Select(v => BitConverter.DoubleToInt64Bits(v)));
}
