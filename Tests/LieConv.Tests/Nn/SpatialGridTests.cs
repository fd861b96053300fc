using LieConv.Groups;
using LieConv.Models;
using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Nn;

/// <summary>
/// kNN over large clouds goes through a spatial grid: it must return exactly the k nearest valid points, whatever
/// the cloud's shape (uniform, clustered, flat, with padding), and the network must not change its outputs.
/// </summary>
[TestFixture]
public class SpatialGridTests : SingleThreadedFixture
{
    private const long N = Neighbourhoods.SpatialGridMinPoints + 904;   // 5,000 points: the grid path
    private const long K = 25;

    /// <summary>The k nearest valid points of every query by brute force, as sorted distance lists.</summary>
    private static float[][] TrueDistances(Tensor x, Tensor mask, long k)
    {
        var x64 = x.to(ScalarType.Float64);
        var distance = cdist(x64, x64).masked_fill(mask.logical_not().unsqueeze(0), double.PositiveInfinity);
        var (nearest, _) = distance.topk((int)k, dim: -1, largest: false);
        var values = nearest.to(ScalarType.Float32).contiguous().data<float>().ToArray();
        return Enumerable.Range(0, (int)x.shape[0]).Select(i => values.Skip(i * (int)k).Take((int)k).ToArray()).ToArray();
    }

    private static void AssertExactKnn(LieGroup group, Tensor coordinates, Tensor mask, Func<Tensor, Tensor> euclidean)
    {
        var cloud = LiftedCloud.Lift(group, coordinates.unsqueeze(0), ones(1, coordinates.shape[0], 1), mask.unsqueeze(0), 1, null);
        var chosen = Neighbourhoods.Select(group, cloud, cloud, K, null, RandomSource.Counter(0));
        var x = euclidean(coordinates);
        var expected = TrueDistances(x, mask, K);
        var indices = Indices(chosen.Indices[0]);
        var valid = chosen.Valid[0].data<bool>().ToArray();
        var maskValues = mask.data<bool>().ToArray();
        var xs = Values(x);
        int dim = (int)x.shape[1];
        for (int i = 0; i < coordinates.shape[0]; i++)
        {
            if (!maskValues[i])
            {
                Assert.That(valid.Skip(i * (int)K).Take((int)K), Is.All.False, $"padding query {i}");
                continue;
            }
            var row = indices.Skip(i * (int)K).Take((int)K).ToArray();
            Assert.That(row, Is.Unique, $"query {i}");
            Assert.That(row.All(j => maskValues[j]), Is.True, $"query {i}: only real points");
            var got = row.Select(j => Math.Sqrt(Enumerable.Range(0, dim).Sum(e => Math.Pow(xs[i * dim + e] - xs[j * dim + e], 2)))).OrderBy(d => d).ToArray();
            Assert.That(got, Is.EqualTo(expected[i].Select(d => (double)d)).Within(1e-3), $"query {i}: the k nearest distances");
        }
    }

    [Test]
    public void UniformCloud_InThreeDimensions_GetsTheExactKNearest()
    {
        manual_seed(90);
        var x = rand(N, 3) * Math.Cbrt(N);
        AssertExactKnn(new Translations(3), x, ones(N, dtype: ScalarType.Bool), c => c);
    }

    [Test]
    public void ClusteredCloudWithPadding_GetsTheExactKNearest()
    {
        // Dense clusters (cubes far fuller than the mean: their queries go to the full search), a sparse halo, a
        // flat sheet, and padding rows holding far-away coordinates that must never be chosen.
        manual_seed(91);
        var clusters = randn(2000, 2) * 0.01 + tensor(new float[] { 5, 5 });
        var halo = rand(2000, 2) * 100;
        var sheet = stack(new[] { rand(1000) * 100, zeros(1000) }, 1);
        var x = cat(new[] { clusters, halo, sheet }, 0);
        var mask = ones(x.shape[0], dtype: ScalarType.Bool);
        mask.index_fill_(0, arange(0, x.shape[0], 7), false);
        AssertExactKnn(new Translations(2), x, mask, c => c);
    }

    [Test]
    public void TrivialGroup_SearchesItsOrbitCoordinates()
    {
        manual_seed(92);
        var x = rand(N, 2) * Math.Sqrt(N);
        AssertExactKnn(new Trivial(2), x, ones(N, dtype: ScalarType.Bool), c => c);
    }

    [Test]
    public void KnnNetwork_OnTheGrid_GivesTheOutputsOfTheAllPairsSearch()
    {
        // A batch holding a cloud with fewer valid points than k is searched all-pairs; the first cloud alone goes
        // through the grid. In evaluation mode each cloud's outputs do not depend on the rest of the batch, so the
        // two must agree (the three layers share one search in both).
        manual_seed(93);
        var model = Net("T(3)", layers: 3, width: 16, knn: true, neighbourhood: K, inputs: 1, outputs: 1, pool: false);
        model.eval();
        var x = rand(1, N, 3) * Math.Cbrt(N);
        var values = randn(1, N, 1);
        var alone = model.forward(new PointCloudBatch(x, values, ones(1, N, dtype: ScalarType.Bool)));

        var sparseMask = zeros(1, N, dtype: ScalarType.Bool);
        sparseMask.narrow(1, 0, 10).fill_(true);
        var pair = new PointCloudBatch(x.expand(2, -1, -1).contiguous(), values.expand(2, -1, -1).contiguous(), cat(new[] { ones(1, N, dtype: ScalarType.Bool), sparseMask }, 0));
        var together = model.forward(pair);
        Assert.That(Values(alone[0]), Is.EqualTo(Values(together[0])).Within(1e-4));
    }

    [Test]
    public void KnnLayers_OnTheSamePoints_ShareOneSearch_UntilThePointsChange()
    {
        manual_seed(96);
        var group = new Translations(2);
        var batch = RandomClouds(2, 30, 2, 4);
        var cloud = LiftedCloud.Lift(group, batch.Coordinates, batch.Values, batch.Mask, 1, null);
        var settings = new LieConvSettings(Neighbourhood: 5, Knn: true);
        var first = new LieConvolution(group, 4, 4, settings, Sampling.Create(0, "a"));
        var second = new LieConvolution(group, 4, 4, settings, Sampling.Create(0, "b"));
        var out1 = first.forward(cloud, null);
        Assert.That(out1.Nearest, Is.Not.Null);
        Assert.That(out1.Nearest!.K, Is.EqualTo(5));
        var out2 = second.forward(out1, null);
        Assert.That(out2.Nearest!.Neighbourhood, Is.SameAs(out1.Nearest.Neighbourhood), "the second layer reused the search");
        Assert.That(out2.Values.shape, Is.EqualTo(new long[] { 2, 30, 4 }));

        var subsampled = second.forward(out1, arange(10).unsqueeze(0));
        Assert.That(subsampled.Nearest, Is.Null, "other points, no search to pass on");
        var otherK = new LieConvolution(group, 4, 4, settings with { Neighbourhood = 7 }, Sampling.Create(0, "c")).forward(out1, null);
        Assert.That(otherK.Nearest!.K, Is.EqualTo(7));
    }
}
