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
/// Clouds that share their points (a fixed grid) are searched and convolved once per batch: the neighbourhoods,
/// batch statistics and network outputs must be those of treating every cloud on its own.
/// </summary>
[TestFixture]
public class SharedGeometryTests : SingleThreadedFixture
{
    private const long N = 15;

    /// <summary>One T(2) cloud of 15 points (first coordinate spread 3), shared by <paramref name="batch"/> clouds with their own values.</summary>
    private static (LiftedCloud Shared, double[] X) SharedCloud(long batch)
    {
        manual_seed(81);
        var one = RandomClouds(1, N, 2, 1, scale: 3);
        var lifted = LiftedCloud.Lift(new Translations(2), one.Coordinates, one.Values, one.Mask, 1, null);
        var shared = lifted with { Values = randn(batch, N, 1) };
        Assert.That(shared.SharesGeometry, Is.True);
        return (shared, Values(one.Coordinates));
    }

    private static double Distance(double[] x, long i, long j) =>
        0.2 * Math.Sqrt(Math.Pow(x[i * 2] - x[j * 2], 2) + Math.Pow(x[i * 2 + 1] - x[j * 2 + 1], 2));

    [Test]
    public void BallMode_EveryCloudTakesItsOwnUniformSubsetOfTheBall_AndPairUsageCountsThem()
    {
        // 400 clouds share one query's ball of m points: each takes min(k, m) distinct in-ball points, each point with
        // frequency k/m (4.5 binomial standard deviations for the m points tested at once).
        const long batch = 400, k = 3;
        const float radius = 1.4f;
        var (cloud, x) = SharedCloud(batch);
        var ball = Enumerable.Range(0, (int)N).Select(j => (long)j).Where(j => Distance(x, 0, j) < radius).ToArray();
        Assert.That(ball.Length, Is.InRange(6, 14), "a ball of part of the cloud");
        var query = cloud.Select(tensor(new long[] { 0 }).unsqueeze(0));
        Assert.That(query.SharesGeometry, Is.True);

        manual_seed(5);
        var chosen = Neighbourhoods.Select(new Translations(2), cloud, query, k, tensor(radius), RandomSource.FromGenerator());
        Assert.That(chosen.Candidates.shape[0], Is.EqualTo(1), "one candidate list for the whole batch");
        Assert.That(chosen.Choice!.shape, Is.EqualTo(new[] { batch, 1L, k }));
        Assert.That(Indices(chosen.InBallCount!), Is.EqualTo(new long[] { ball.Length }));

        var indices = Indices(chosen.Indices);
        var valid = chosen.Valid.data<bool>().ToArray();
        var counts = new Dictionary<long, int>();
        for (int b = 0; b < batch; b++)
        {
            var row = Enumerable.Range(0, (int)k).Where(t => valid[b * k + t]).Select(t => indices[b * k + t]).ToArray();
            Assert.That(row, Is.Unique.And.SubsetOf(ball), $"cloud {b}");
            Assert.That(row.Length, Is.EqualTo(Math.Min(k, ball.Length)), $"cloud {b}");
            foreach (var j in row) counts[j] = counts.GetValueOrDefault(j) + 1;
        }
        double p = (double)k / ball.Length, sd = Math.Sqrt(p * (1 - p) / batch);
        Assert.That(counts.Keys, Is.EquivalentTo(ball));
        foreach (var j in ball)
            Assert.That((double)counts[j] / batch, Is.EqualTo(p).Within(4.5 * sd), $"point {j}");

        // PairUsage: how many clouds use each (query, candidate) pair.
        var usage = Values(chosen.PairUsage(batch, ScalarType.Float32));
        var candidates = Indices(chosen.Candidates);
        for (int t = 0; t < candidates.Length; t++)
            Assert.That(usage[t], Is.EqualTo(counts.GetValueOrDefault(candidates[t])), $"candidate {candidates[t]}");
    }

    [Test]
    public void KnnMode_SharedCandidatesAreEveryClouds_KNearest_UsedByEveryCloud()
    {
        const long batch = 4, k = 5;
        var (cloud, _) = SharedCloud(batch);
        var shared = Neighbourhoods.Select(new Translations(2), cloud, cloud, k, null, RandomSource.Counter(3));
        var perCloud = Neighbourhoods.Select(new Translations(2), cloud.PerCloud(), cloud.PerCloud(), k, null, RandomSource.Counter(3));
        Assert.That(shared.Indices.shape, Is.EqualTo(new[] { 1L, N, k }));
        Assert.That(perCloud.Indices.shape, Is.EqualTo(new[] { batch, N, k }));
        var one = Indices(shared.Indices);
        var every = Indices(perCloud.Indices);
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < N; i++)
                Assert.That(every.Skip((int)((b * N + i) * k)).Take((int)k), Is.EquivalentTo(one.Skip((int)(i * k)).Take((int)k)), $"cloud {b}, query {i}");
        Assert.That(Values(shared.PairUsage(batch, ScalarType.Float32)), Is.All.EqualTo(batch));
    }

    [Test]
    public void BatchNorm_WithACountMask_WeighsEachEntryAsThatManyCopies()
    {
        manual_seed(82);
        var x = randn(4, 3);
        var counts = tensor(new float[] { 2, 1, 0, 3 });
        var repeated = x.index_select(0, tensor(new long[] { 0, 0, 1, 3, 3, 3 }));
        var weighted = new MaskedBatchNorm(3);
        var copies = new MaskedBatchNorm(3);
        weighted.train();
        copies.train();
        var y = weighted.forward(x, counts);
        var yCopies = copies.forward(repeated, ones(6, dtype: ScalarType.Bool));
        Assert.That(Values(y.index_select(0, tensor(new long[] { 0, 1, 3 }))),
            Is.EqualTo(Values(yCopies.index_select(0, tensor(new long[] { 0, 2, 3 })))).Within(1e-5));
        foreach (var name in new[] { "running_mean", "running_var" })
            Assert.That(Values(weighted.get_buffer(name)!), Is.EqualTo(Values(copies.get_buffer(name)!)).Within(1e-6), name);
    }

    [TestCase("T(2)")]
    [TestCase("SO2(.2)")]
    public void ImageNetwork_OnItsSharedGrid_GivesTheOutputsAndGradientsOfThePerImageNetwork(string group)
    {
        // kNN neighbourhoods are deterministic, so the shared path (grid searched and kernels run once per batch, batch
        // norm weighted by use) and the generic per-image path must agree up to float rounding, in training mode.
        manual_seed(83);
        var model = new ImageLieResNet(new ImageLieResNetOptions
        {
            Group = group, Channels = 16, Layers = 2, TotalDownsample = 0.25, Neighbourhood = 9, Knn = true, CropRadius = 6,
        });
        model.train();
        var images = randn(3, 1, 12, 12);
        var shared = model.forward(images);
        var sharedGrads = model.parameters().Select(p => autograd.grad(new[] { shared.square().sum() }, new[] { p }, retain_graph: true)[0].clone()).ToList();

        var (points, pixels) = ImageLieResNet.Grid(12, 12, 6, ScalarType.Float32, CPU);
        var values = images.reshape(3, -1, 1).index_select(1, pixels);
        var batch = new PointCloudBatch(points.unsqueeze(0).expand(3, -1, -1).contiguous(), values, ones(3, points.shape[0], dtype: ScalarType.Bool));
        var perImage = model.Body.forward(batch);
        var perImageGrads = model.parameters().Select(p => autograd.grad(new[] { perImage.square().sum() }, new[] { p }, retain_graph: true)[0]).ToList();

        Assert.That(Values(shared), Is.EqualTo(Values(perImage)).Within(1e-4));
        for (int i = 0; i < sharedGrads.Count; i++)
        {
            // Biases ahead of a batch norm have gradients that are 0 up to rounding: compare them on the 0.01 scale.
            double scale = Math.Max(Values(perImageGrads[i].abs().max())[0], 1e-2);
            Assert.That(Values(sharedGrads[i] / scale), Is.EqualTo(Values(perImageGrads[i] / scale)).Within(1e-3), $"gradient {i}");
        }
    }

    [Test]
    public void Lift_SharesThePointsOfIdenticalClouds_Only()
    {
        manual_seed(84);
        var one = RandomClouds(1, N, 2, 1);
        var same = LiftedCloud.Lift(new Translations(2), one.Coordinates.expand(3, -1, -1), randn(3, N, 1), one.Mask.expand(3, -1), 1, null);
        Assert.That(same.SharesGeometry, Is.True);
        Assert.That(same.Elements.shape, Is.EqualTo(new[] { 1L, N, 2 }));
        Assert.That(same.Values.shape, Is.EqualTo(new[] { 3L, N, 1 }));

        var moved = one.Coordinates.expand(3, -1, -1).clone();
        moved[2, 4, 1] = tensor(7f);
        Assert.That(LiftedCloud.Lift(new Translations(2), moved, randn(3, N, 1), one.Mask.expand(3, -1), 1, null).SharesGeometry, Is.False);
        // Gradients by the coordinates (Hamiltonian networks) need every cloud's own points.
        var tracked = one.Coordinates.expand(3, -1, -1).clone().requires_grad_(true);
        var lifted = LiftedCloud.Lift(new Translations(2), tracked, randn(3, N, 1), one.Mask.expand(3, -1), 1, null);
        Assert.That(lifted.SharesGeometry, Is.False);
        var perCloud = autograd.grad(new[] { lifted.Elements.select(0, 2).sum() }, new[] { tracked })[0];
        Assert.That(Values(perCloud.select(0, 2).sum())[0], Is.EqualTo(2.0 * N).Within(1e-6), "cloud 2's own positions");
        Assert.That(Values(perCloud.select(0, 0).abs().sum())[0], Is.EqualTo(0), "not cloud 0's");

        var masked = one.Mask.expand(3, -1).clone();
        masked[1, 0] = tensor(false);
        Assert.That(LiftedCloud.Lift(new Translations(2), one.Coordinates.expand(3, -1, -1), randn(3, N, 1), masked, 1, null).SharesGeometry, Is.False);
    }

    [TestCase("T(2)")]
    [TestCase("SO2(.2)")]
    public void GenericNetwork_InEvaluation_ScoresEachOfIdenticalCloudsAsItWouldAlone(string group)
    {
        // Ball neighbourhoods and farthest-point subsampling on clouds that share their points: with the counter source
        // of evaluation mode, a batch must score each cloud exactly as a batch of that cloud alone (which is not shared).
        manual_seed(85);
        var model = Net(group, layers: 2, width: 16, downsample: 0.5, neighbourhood: 6, inputs: 1, fill: 0.3);
        RandomiseRunningStatistics(model);
        model.eval();
        var one = RandomClouds(1, 40, 2, 1);
        var values = randn(4, 40, 1);
        var batch = new PointCloudBatch(one.Coordinates.expand(4, -1, -1), values, one.Mask.expand(4, -1));
        var together = model.forward(batch);
        for (int b = 0; b < 4; b++)
        {
            var alone = model.forward(new PointCloudBatch(one.Coordinates, values.narrow(0, b, 1), one.Mask));
            Assert.That(Values(together[b]), Is.EqualTo(Values(alone[0])).Within(1e-5), $"cloud {b}");
        }
    }

    [Test]
    public void ImageNetwork_InEvaluation_ScoresAnImageAloneAsInABatch()
    {
        manual_seed(86);
        var model = new ImageLieResNet(new ImageLieResNetOptions { Channels = 16, Layers = 2, TotalDownsample = 0.25, Neighbourhood = 9, CropRadius = 6, Fill = 0.3 });
        RandomiseRunningStatistics(model);
        model.eval();
        var images = randn(3, 1, 12, 12);
        var together = model.forward(images);
        for (int b = 0; b < 3; b++)
            Assert.That(Values(together[b]), Is.EqualTo(Values(model.forward(images.narrow(0, b, 1))[0])).Within(1e-5), $"image {b}");
    }

    [TestCase("T(2)", false)]
    [TestCase("SO2(.2)", false)]
    [TestCase("T(2)", true)]
    public void CompactOrDistinctKernelTables_GiveTheOutputsGradientsAndStatisticsOfFullTables(string group, bool distinct)
    {
        // Training mode, ball neighbourhoods drawn from the same seeded generator: the kernel network on the in-ball
        // candidates only, or on each distinct pair feature once (T(2)'s grid offsets repeat), must give what it gives
        // on every padded slot (batch norm weighted by use in all).
        void Route(bool on)
        {
            if (distinct) LieConvolution.DistinctPairFeatures = on;
            else LieConvolution.CompactKernelTables = on;
        }
        manual_seed(87);
        var model = new ImageLieResNet(new ImageLieResNetOptions
        {
            Group = group, Channels = 16, Layers = 2, TotalDownsample = 0.25, Neighbourhood = 9, CropRadius = 6, Fill = 0.3,
        });
        model.train();
        var images = randn(3, 1, 12, 12);
        // Each training forward adapts the radii and running statistics: both runs start from the same state.
        var start = model.state_dict().ToDictionary(e => e.Key, e => e.Value.clone());
        (double[] Output, List<double[]> Grads, List<double[]> Statistics) Run(bool on)
        {
            Route(on);
            try
            {
                using (no_grad())
                    foreach (var (name, value) in model.state_dict()) value.copy_(start[name]);
                manual_seed(88);
                var output = model.forward(images);
                var grads = model.parameters().Select(p => Values(autograd.grad(new[] { output.square().sum() }, new[] { p }, retain_graph: true)[0])).ToList();
                return (Values(output), grads, model.buffers().Where(b => b.is_floating_point()).Select(Values).ToList());
            }
            finally { Route(true); }
        }
        var full = Run(on: false);
        long distinctTables = DistinctRows.Found;
        var lean = Run(on: true);
        if (distinct) Assert.That(DistinctRows.Found, Is.GreaterThan(distinctTables), "the kernel network ran on distinct pair features");
        Assert.That(lean.Output, Is.EqualTo(full.Output).Within(1e-4));
        for (int i = 0; i < full.Grads.Count; i++)
        {
            double scale = Math.Max(full.Grads[i].Max(Math.Abs), 1e-2);
            Assert.That(lean.Grads[i].Select(g => g / scale), Is.EqualTo(full.Grads[i].Select(g => g / scale)).Within(1e-3), $"gradient {i}");
        }
        for (int i = 0; i < full.Statistics.Count; i++)
            Assert.That(lean.Statistics[i], Is.EqualTo(full.Statistics[i]).Within(1e-4), $"running statistic {i}");
    }
}
