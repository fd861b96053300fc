using LieConv.Groups;
using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Nn;

/// <summary>
/// Ball neighbourhoods of groups with a Euclidean lower bound of their distance (SE(2), SE(3), T(d)) discard most
/// points by the bound first: the bound must hold, and the balls and draws must be those of ranking every point.
/// </summary>
[TestFixture]
public class DistanceLowerBoundTests : SingleThreadedFixture
{
    [TestCase("SE2(.05)")]
    [TestCase("SE2(.6)")]
    [TestCase("SE3(.2)")]
    [TestCase("T(3)")]
    public void TheBoundNeverExceedsTheDistance(string spec)
    {
        var group = LieGroup.Parse(spec);
        manual_seed(94);
        var lifted = group.Lift(randn(2, 60, group.SpaceDim) * 3, group.HasRandomLift ? 2 : 1, RandomSource.Counter(9));
        var (coordinates, scale) = group.DistanceLowerBound(lifted.Elements, lifted.Orbits)!.Value;
        var bound = scale * cdist(coordinates.to(ScalarType.Float64), coordinates.to(ScalarType.Float64));
        var distance = group.PairDistance(lifted.Elements.unsqueeze(2), lifted.Orbits.unsqueeze(2), lifted.Elements.unsqueeze(1), lifted.Orbits.unsqueeze(1));
        double worst = (bound - distance.to(ScalarType.Float64)).max().item<double>();
        Assert.That(worst, Is.LessThan(1e-4), "bound − distance");
        Assert.That((bound / distance.to(ScalarType.Float64).clamp_min(1e-6)).mean().item<double>(), Is.GreaterThan(0.3), "a useful bound, not 0");
    }

    /// <summary>Three random clouds of 30 points, the last with three of them padding, lifted.</summary>
    private static LiftedCloud ThreeClouds(LieGroup group, int liftSamples, int seed)
    {
        manual_seed(seed);
        var clouds = RandomClouds(3, 30, group.SpaceDim, 1, scale: 2);
        var mask = clouds.Mask.clone();
        mask[2, tensor(new long[] { 0, 5, 6 })] = tensor(false);
        return LiftedCloud.Lift(group, clouds.Coordinates, clouds.Values, mask, liftSamples, RandomSource.Counter(4));
    }

    /// <summary>(B, n, n) whether each pair of real points lies within <paramref name="radius"/> by the exact distance.</summary>
    private static Tensor ExactBalls(LieGroup group, LiftedCloud cloud, Tensor radius) =>
        (group.PairDistance(cloud.Elements.unsqueeze(2), cloud.Orbits.unsqueeze(2), cloud.Elements.unsqueeze(1), cloud.Orbits.unsqueeze(1)) < radius)
        & cloud.Mask.unsqueeze(1) & cloud.Mask.unsqueeze(2);

    [TestCase("SE2(.05)", 1)]
    [TestCase("SE2(.2)", 2)]
    [TestCase("SE3(.2)", 2)]
    public void BallMode_ChoosesAsRankingEveryPointWould(string spec, int liftSamples)
    {
        // Per cloud: the ball is every point within the radius by the exact distance, and the chosen neighbours are the
        // k in-ball points with the largest counter draws at their own (row, column) positions.
        var group = LieGroup.Parse(spec);
        var cloud = ThreeClouds(group, liftSamples, seed: 95);
        Assert.That(cloud.SharesGeometry, Is.False);
        const long k = 4;
        var radius = tensor(0.9f);
        var source = RandomSource.Counter(12);
        var chosen = Neighbourhoods.Select(group, cloud, cloud, k, radius, source);

        long b = cloud.BatchSize, n = cloud.PointCount;
        var inside = ExactBalls(group, cloud, radius);
        var score = source.Uniform(new[] { b, n, n }, ScalarType.Float32, CPU) + inside;
        var (best, expected) = score.topk((int)k, dim: -1);
        var expectedValid = best >= 1;

        Assert.That(Indices(chosen.InBallCount!), Is.EqualTo(Indices(inside.sum(-1))), "ball sizes");
        var got = Indices(chosen.Indices);
        var gotValid = chosen.Valid.data<bool>().ToArray();
        var want = Indices(expected);
        var wantValid = expectedValid.data<bool>().ToArray();
        for (int row = 0; row < b * n; row++)
        {
            var mine = Enumerable.Range(0, (int)k).Where(t => gotValid[row * k + t]).Select(t => got[row * k + t]).OrderBy(j => j);
            var theirs = Enumerable.Range(0, (int)k).Where(t => wantValid[row * k + t]).Select(t => want[row * k + t]).OrderBy(j => j);
            Assert.That(mine, Is.EqualTo(theirs), $"cloud {row / n}, query {row % n}");
        }
    }

    [TestCase("T(2)", 1)]
    [TestCase("SE2(.2)", 2)]
    [TestCase("SO2(.2)", 1)]
    public void BallMode_DrawnFromTheGenerator_TakesMinOfKAndTheBallSize_AllInsideIt(string spec, int liftSamples)
    {
        // Training's source draws each subset on the host, in every route: the bound's candidates (T(2), SE(2)) and
        // every point (SO(2), no bound). The ball is every point within the radius by the exact distance.
        var group = LieGroup.Parse(spec);
        var cloud = ThreeClouds(group, liftSamples, seed: 97);
        const long k = 4;
        var radius = tensor(0.9f);
        var chosen = Neighbourhoods.Select(group, cloud, cloud, k, radius, RandomSource.FromGenerator(new Generator(15)));

        long n = cloud.PointCount;
        var balls = ExactBalls(group, cloud, radius);
        Assert.That(Indices(chosen.InBallCount!), Is.EqualTo(Indices(balls.sum(-1))), "ball sizes");
        var inside = balls.data<bool>().ToArray();
        var got = Indices(chosen.Indices);
        var gotValid = chosen.Valid.data<bool>().ToArray();
        long partial = 0;
        for (long row = 0; row < cloud.BatchSize * n; row++)
        {
            var ball = Enumerable.Range(0, (int)n).Where(j => inside[row * n + j]).Select(j => (long)j).ToArray();
            var mine = Enumerable.Range(0, (int)k).Where(t => gotValid[row * k + t]).Select(t => got[row * k + t]).ToArray();
            Assert.That(mine, Is.Unique.And.SubsetOf(ball), $"cloud {row / n}, query {row % n}");
            Assert.That(mine.Length, Is.EqualTo(Math.Min(k, ball.Length)), $"cloud {row / n}, query {row % n}");
            if (ball.Length > k) partial++;
        }
        Assert.That(partial, Is.GreaterThan(10), "balls larger than k, so that the draw chooses");
    }

    [TestCase("SE2(.2)", 2)]
    [TestCase("SE3(.2)", 2)]
    [TestCase("T(3)", 1)]
    public void KeptDistances_ChooseTheBallsAndDrawsOfASearchFromScratch(string spec, int liftSamples)
    {
        var group = LieGroup.Parse(spec);
        manual_seed(96);
        var clouds = RandomClouds(3, 30, group.SpaceDim, 1, scale: 2);
        var mask = clouds.Mask.clone();
        mask[1, tensor(new long[] { 2, 3, 29 })] = tensor(false);
        var cloud = LiftedCloud.Lift(group, clouds.Coordinates, clouds.Values, mask, liftSamples, RandomSource.Counter(4));
        var distances = Neighbourhoods.AllPairDistances(group, cloud);
        Assert.That(distances, Is.Not.Null);
        Assert.That(distances!.shape, Is.EqualTo(new[] { 3L, cloud.PointCount, cloud.PointCount }));
        var radius = tensor(0.9f);
        var fresh = Neighbourhoods.Select(group, cloud, cloud, 4, radius, RandomSource.Counter(13));
        var kept = Neighbourhoods.Select(group, cloud, cloud, 4, radius, RandomSource.Counter(13), distances);
        Assert.That(Indices(kept.InBallCount!), Is.EqualTo(Indices(fresh.InBallCount!)), "ball sizes");
        Assert.That(Sets(kept), Is.EqualTo(Sets(fresh)), "chosen neighbours");
        Assert.That(() => Neighbourhoods.Select(group, cloud, cloud, 4, null, RandomSource.Counter(13), distances), Throws.ArgumentException, "kNN takes no kept distances");
    }

    [Test]
    public void BlocksOnTheSamePoints_ShareOneDistanceTable_AndConvolveAsIfEachComputedItsOwn()
    {
        var group = LieGroup.Parse("SE3(.2)");
        manual_seed(97);
        var clouds = RandomClouds(2, 12, 3, 8);
        var cloud = LiftedCloud.Lift(group, clouds.Coordinates, clouds.Values, clouds.Mask, 2, RandomSource.Counter(5));
        var settings = new LieConvSettings(Neighbourhood: 5, Fill: 0.5, BatchNorm: true);
        var first = new BottleBlock(group, 8, 8, settings, 1, Sampling.Create(0, "first"));
        var second = new BottleBlock(group, 8, 8, settings, 1, Sampling.Create(0, "second"));
        first.eval();
        second.eval();
        var middle = first.forward(cloud);
        Assert.That(middle.Distances, Is.Not.Null, "the first ball layer keeps the distances it computed");
        var shared = second.forward(middle);
        Assert.That(shared.Distances, Is.SameAs(middle.Distances), "the second reuses them");
        var own = second.forward(middle with { Distances = null });
        Assert.That(Values(shared.Values), Is.EqualTo(Values(own.Values)).Within(1e-5));
        var subsampling = new BottleBlock(group, 8, 8, settings, 0.5, Sampling.Create(0, "third"));
        subsampling.eval();
        Assert.That(subsampling.forward(middle).Distances, Is.Null, "new points, no distances");
    }

    [TestCase("SE2(.05)", 2, 0.8f, 40)]
    [TestCase("SE2(.2)", 1, 1.6f, 40)]
    [TestCase("SE2(.05)", 1, 1.2f, 1500)]   // several blocks of queries in both routes, sized differently
    public void LiftsOfOneGrid_WithSubsampledQueries_BoundEachPairOnce_AndChooseAsEachCloudAlone(string spec, int liftSamples, float ballRadius, int points)
    {
        // RotMNIST's SE(2) layers: every cloud is the same grid lifted with its own rotations, and each keeps its own
        // subset of queries. The pairs are bounded once for the batch; balls and draws must be each cloud's own.
        var group = LieGroup.Parse(spec);
        manual_seed(98);
        var grid = RandomClouds(1, points, 2, 1, scale: 2);
        var coordinates = grid.Coordinates.expand(3, -1, -1).contiguous();
        var cloud = LiftedCloud.Lift(group, coordinates, grid.Values.expand(3, -1, -1), grid.Mask.expand(3, -1), liftSamples, RandomSource.Counter(6));
        Assert.That(cloud.SharesGeometry, Is.False, "each cloud has its own rotations");
        var bound = group.DistanceLowerBound(cloud.Elements, cloud.Orbits)!.Value.Coordinates;
        Assert.That(Neighbourhoods.SharedCoordinatesSpread(bound), Is.Not.Null.And.LessThan(1e-4), "the same points up to rounding");
        Assert.That(Neighbourhoods.SharedCoordinatesSpread(bound + randn_like(bound) * 0.1), Is.Null, "other points");

        long n = cloud.PointCount, m = n / 2;
        var queryIndices = stack(Enumerable.Range(0, 3).Select(_ => randperm(n).narrow(0, 0, m)).ToList(), 0);
        var queries = cloud.Select(queryIndices);
        var queryMask = queries.Mask.clone();
        queryMask[1, tensor(new long[] { 0, 7 })] = tensor(false);
        queries = queries with { Mask = queryMask };
        var radius = tensor(ballRadius);
        const long k = 5;
        Neighbourhood Search(bool share)
        {
            Neighbourhoods.ShareBoundAcrossClouds = share;
            try { return Neighbourhoods.Select(group, cloud, queries, k, radius, RandomSource.Counter(14), queryIndices: queryIndices); }
            finally { Neighbourhoods.ShareBoundAcrossClouds = true; }
        }
        var shared = Search(true);
        var perCloud = Search(false);

        // Against ranking every point: the ball by the exact distance, the k largest counter draws at (query row, column).
        var distance = group.PairDistance(queries.Elements.unsqueeze(2), queries.Orbits.unsqueeze(2), cloud.Elements.unsqueeze(1), cloud.Orbits.unsqueeze(1));
        var inside = (distance < radius) & cloud.Mask.unsqueeze(1) & queries.Mask.unsqueeze(2);
        var score = RandomSource.Counter(14).Uniform(new[] { 3L, m, n }, ScalarType.Float32, CPU) + inside;
        var (best, expected) = score.topk((int)k, dim: -1);
        var want = Sets(new Neighbourhood(expected, null, best >= 1, inside.sum(-1)));
        Assert.That(inside.sum(-1).max().item<long>(), Is.GreaterThan(k), "balls larger than k, so the draws matter");
        Assert.That(Indices(shared.InBallCount!), Is.EqualTo(Indices(inside.sum(-1))), "ball sizes");
        Assert.That(Sets(shared), Is.EqualTo(want), "chosen neighbours, pairs bounded once");
        Assert.That(Sets(perCloud), Is.EqualTo(want), "chosen neighbours, pairs bounded per cloud");
        Assert.That(() => Neighbourhoods.Select(group, cloud, queries, k, radius, RandomSource.Counter(14), queryIndices: queryIndices.narrow(1, 0, 3)),
            Throws.ArgumentException, "indices of other queries");
    }

    /// <summary>Each query's valid neighbours, as sorted lists.</summary>
    private static List<long[]> Sets(Neighbourhood neighbourhood)
    {
        var indices = Indices(neighbourhood.Indices);
        var valid = neighbourhood.Valid.data<bool>().ToArray();
        long k = neighbourhood.Indices.shape[^1];
        return Enumerable.Range(0, valid.Length / (int)k)
            .Select(row => Enumerable.Range(0, (int)k).Where(t => valid[row * k + t]).Select(t => indices[row * k + t]).OrderBy(j => j).ToArray())
            .ToList();
    }
}
