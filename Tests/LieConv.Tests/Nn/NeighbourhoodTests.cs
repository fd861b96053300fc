using LieConv.Groups;
using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Nn;

[TestFixture]
public class NeighbourhoodTests : SingleThreadedFixture
{
    private const long N = 15;

    /// <summary>Two T(2) clouds of 15 points; the second has 9 valid points and padding at 3, 7, 11, 12, 13, 14.</summary>
    private static (LiftedCloud Cloud, double[] X, bool[] Mask) Clouds()
    {
        manual_seed(80);
        var clouds = RandomClouds(2, N, 2, 1, scale: 3);
        var mask = clouds.Mask.clone();
        mask[1, tensor(new long[] { 3, 7, 11, 12, 13, 14 })] = tensor(false);
        var cloud = LiftedCloud.Lift(new Translations(2), clouds.Coordinates, clouds.Values, mask, 1, null);
        return (cloud, Values(clouds.Coordinates), mask.data<bool>().ToArray());
    }

    /// <summary>The T(2) distance 0.2·‖x_i − x_j‖ within cloud b.</summary>
    private static double Distance(double[] x, int b, long i, long j) =>
        0.2 * Math.Sqrt(Math.Pow(x[(b * N + i) * 2] - x[(b * N + j) * 2], 2) + Math.Pow(x[(b * N + i) * 2 + 1] - x[(b * N + j) * 2 + 1], 2));

    private static long[] Ball(double[] x, bool[] mask, int b, long i, double radius) =>
        Enumerable.Range(0, (int)N).Select(j => (long)j).Where(j => mask[b * N + j] && Distance(x, b, i, j) < radius).ToArray();

    [TestCase(4L, false)]
    [TestCase(N, false)]
    [TestCase(4L, true)]
    [TestCase(N, true)]
    public void BallMode_ChoosesMinOfKAndTheBallSize_AllInsideTheBall(long k, bool fromGenerator)
    {
        // A counter source ranks the ball's points; the generator (training) draws each subset on the host.
        var (cloud, x, mask) = Clouds();
        const float radius = 0.6f;
        var chosen = Neighbourhoods.Select(new Translations(2), cloud, cloud, k, tensor(radius),
            fromGenerator ? RandomSource.FromGenerator(new Generator(3)) : RandomSource.Counter(3));
        Assert.That(chosen.Indices.shape, Is.EqualTo(new long[] { 2, N, k }));
        var indices = Indices(chosen.Indices);
        var valid = chosen.Valid.data<bool>().ToArray();
        var inBall = Indices(chosen.InBallCount!);
        int sizes = 0;
        for (int b = 0; b < 2; b++)
            for (long i = 0; i < N; i++)
            {
                var row = Enumerable.Range(0, (int)k).Where(t => valid[(b * N + i) * k + t]).Select(t => indices[(b * N + i) * k + t]).ToArray();
                if (!mask[b * N + i])
                {
                    Assert.That(row, Is.Empty, "padding queries have no neighbours");
                    Assert.That(inBall[b * N + i], Is.EqualTo(0));
                    continue;
                }
                var ball = Ball(x, mask, b, i, radius);
                sizes += ball.Length;
                Assert.That(inBall[b * N + i], Is.EqualTo(ball.Length), $"cloud {b}, query {i}: in-ball count");
                Assert.That(row, Is.Unique.And.SubsetOf(ball), $"cloud {b}, query {i}: neighbours inside the ball");
                Assert.That(row.Length, Is.EqualTo(Math.Min(k, ball.Length)), $"cloud {b}, query {i}: how many");
            }
        Assert.That(sizes / 24.0, Is.InRange(2.5, 12.0), "the radius makes proper, partly filled balls");
    }

    [Test]
    public void BallMode_TakesAUniformRandomSubsetOfTheBall()
    {
        // Over 400 counter seeds, each point of a ball of m points is chosen with frequency k/m; 4.5 binomial standard
        // deviations allow for the m points tested at once.
        var (cloud, x, mask) = Clouds();
        const float radius = 1.4f;
        const long k = 3;
        var ball = Ball(x, mask, 0, 0, radius);
        Assert.That(ball.Length, Is.InRange(6, 14), "a ball of part of the cloud");
        TestContext.Out.WriteLine($"ball of {ball.Length}");
        var counts = new Dictionary<long, int>();
        const int draws = 400;
        var query = cloud.Select(tensor(new long[] { 0 }).unsqueeze(0));
        for (int seed = 0; seed < draws; seed++)
        {
            var chosen = Neighbourhoods.Select(new Translations(2), cloud, query, k, tensor(radius), RandomSource.Counter(seed));
            foreach (var j in Indices(chosen.Indices[0, 0])) counts[j] = counts.GetValueOrDefault(j) + 1;
        }
        double p = (double)k / ball.Length, sd = Math.Sqrt(p * (1 - p) / draws);
        Assert.That(counts.Keys, Is.EquivalentTo(ball));
        foreach (var j in ball)
            Assert.That((double)counts[j] / draws, Is.EqualTo(p).Within(4.5 * sd), $"point {j}");
    }

    [Test]
    public void KnnMode_ChoosesTheNearestValidPoints()
    {
        var (cloud, x, mask) = Clouds();
        const long k = 5;
        var chosen = Neighbourhoods.Select(new Translations(2), cloud, cloud, k, null, RandomSource.Counter(3));
        Assert.That(chosen.InBallCount, Is.Null);
        var indices = Indices(chosen.Indices);
        var valid = chosen.Valid.data<bool>().ToArray();
        for (int b = 0; b < 2; b++)
            for (long i = 0; i < N; i++)
            {
                if (!mask[b * N + i]) continue;
                var nearest = Enumerable.Range(0, (int)N).Select(j => (long)j).Where(j => mask[b * N + j])
                    .OrderBy(j => Distance(x, b, i, j)).Take((int)k).ToArray();
                var row = Enumerable.Range(0, (int)k).Select(t => indices[(b * N + i) * k + t]).ToArray();
                Assert.That(row, Is.EquivalentTo(nearest), $"cloud {b}, query {i}");
                Assert.That(Enumerable.Range(0, (int)k).All(t => valid[(b * N + i) * k + t]), Is.True);
            }
    }

    /// <summary>A source whose every draw is <paramref name="value"/>.</summary>
    private sealed class ConstantSource(double value) : RandomSource
    {
        public override Tensor Uniform(long[] shape, ScalarType dtype, Device device, long[]? offsets) =>
            full(shape, value, dtype: dtype, device: device);
    }

    [Test]
    public void BallMode_KeepsInBallPointsWhoseNoiseIsZero()
    {
        var (cloud, x, mask) = Clouds();
        const float radius = 0.6f;
        var chosen = Neighbourhoods.Select(new Translations(2), cloud, cloud, N, tensor(radius), new ConstantSource(0));
        Assert.That(Indices(chosen.Valid.sum(-1)), Is.EqualTo(Indices(chosen.InBallCount!)));
    }
}
