using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Runtime;

[TestFixture]
public class RandomSourceTests
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a == b).all().item<bool>();

    [Test]
    public void Counter_DrawsAreAFunctionOfThePositionInsideACloud()
    {
        var source = RandomSource.Counter(123);
        var batch = source.Uniform(new long[] { 3, 40, 2 }, ScalarType.Float32, CPU);
        Assert.That(Same(batch[0], batch[2]), Is.True, "every cloud of a batch gets the same draws");
        Assert.That(Same(batch, source.Uniform(new long[] { 3, 40, 2 }, ScalarType.Float32, CPU)), Is.True, "reproducible");

        // Padding a cloud with more points leaves the draws of the existing points unchanged.
        var padded = source.Uniform(new long[] { 1, 64, 2 }, ScalarType.Float32, CPU);
        Assert.That(Same(padded[0].narrow(0, 0, 40), batch[0]), Is.True);

        Assert.That(Same(RandomSource.Counter(124).Uniform(new long[] { 1, 40, 2 }, ScalarType.Float32, CPU)[0], batch[0]), Is.False);
        Assert.That(batch[0, 0, 0].item<float>(), Is.Not.EqualTo(batch[0, 1, 0].item<float>()));
    }

    [Test]
    public void Counter_UniformAndNormalDrawsHaveTheRightDistribution()
    {
        var source = RandomSource.Counter(7);
        var u = source.Uniform(new long[] { 1, 200, 100 }, ScalarType.Float64, CPU).flatten();
        Assert.That(u.min().item<double>(), Is.GreaterThanOrEqualTo(0));
        Assert.That(u.max().item<double>(), Is.LessThan(1));
        long n = u.numel();
        var ecdf = arange(1, n + 1, dtype: ScalarType.Float64) / n;
        Assert.That((u.sort().Values - ecdf).abs().max().item<double>(), Is.LessThan(1.63 / Math.Sqrt(n)), "Kolmogorov–Smirnov at p = 0.01");
        // Neighbouring positions must not be correlated.
        var grid = u.reshape(200, 100);
        double correlation = ((grid.narrow(1, 0, 99) - 0.5) * (grid.narrow(1, 1, 99) - 0.5)).mean().item<double>() * 12;
        Assert.That(Math.Abs(correlation), Is.LessThan(0.03));

        var z = source.Normal(new long[] { 1, 20000 }, ScalarType.Float64, CPU);
        Assert.That(Math.Abs(z.mean().item<double>()), Is.LessThan(0.03));
        Assert.That(z.std().item<double>(), Is.EqualTo(1).Within(0.03));
    }

    [Test]
    public void FromGenerator_FollowsTheGeneratorSeed()
    {
        var a = RandomSource.FromGenerator(new Generator(5)).Uniform(new long[] { 2, 3 }, ScalarType.Float32, CPU);
        var b = RandomSource.FromGenerator(new Generator(5)).Uniform(new long[] { 2, 3 }, ScalarType.Float32, CPU);
        Assert.That(Same(a, b), Is.True);
        Assert.That(Same(a[0], a[1]), Is.False, "unlike the counter source, clouds get their own draws");
    }

    [Test]
    public void UniformAt_GivesEachColumnItsDrawInTheFullRequest()
    {
        // Counter source: the draw at (row, column) whatever subset of columns is asked for; generator: fresh draws
        // of the right shape in [0, 1).
        var counter = RandomSource.Counter(21);
        var full = counter.Uniform(new long[] { 3, 5, 40 }, ScalarType.Float32, CPU, new long[] { 0, 7, 0 });
        var columns = tensor(new long[] { 39, 0, 12, 12, 5, 1, 2, 3, 38, 20, 21, 22, 30, 31, 32 }).view(1, 5, 3);
        var some = counter.UniformAt(3, columns, 7, ScalarType.Float32);
        Assert.That(some.shape, Is.EqualTo(new long[] { 3, 5, 3 }));
        Assert.That(some.data<float>().ToArray(), Is.EqualTo(full.gather(-1, columns.expand(3, -1, -1)).data<float>().ToArray()));

        var fresh = RandomSource.FromGenerator().UniformAt(3, columns, 7, ScalarType.Float32);
        Assert.That(fresh.shape, Is.EqualTo(new long[] { 3, 5, 3 }));
        Assert.That(fresh.min().item<float>(), Is.GreaterThanOrEqualTo(0f));
        Assert.That(fresh.max().item<float>(), Is.LessThan(1f));
    }
}
