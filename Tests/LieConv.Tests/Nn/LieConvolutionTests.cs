using LieConv.Groups;
using LieConv.Models;
using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Nn;

[TestFixture]
public class LieConvolutionTests : SingleThreadedFixture
{
    // A T(2) cloud of 5 points, the 4th (index 3) padding; 2 input channels.
    private static readonly double[,] Points = { { 0.0, 0.0 }, { 1.0, 0.5 }, { -0.5, 2.0 }, { 9.0, 9.0 }, { 0.7, -1.2 } };
    private static readonly double[,] Features = { { 1.0, -2.0 }, { 0.5, 0.25 }, { -1.5, 1.0 }, { 100, 100 }, { 2.0, 0.5 } };
    private static readonly bool[] Valid = { true, true, true, false, true };

    private static LiftedCloud TinyCloud() => LiftedCloud.Lift(new Translations(2),
        tensor(Points.Cast<double>().ToArray(), new long[] { 1, 5, 2 }).to(ScalarType.Float32),
        tensor(Features.Cast<double>().ToArray(), new long[] { 1, 5, 2 }).to(ScalarType.Float32),
        tensor(Valid, new long[] { 1, 5 }), 1, null);

    /// <summary>
    /// The kernel network, set by hand (ReLU): layer 1 computes (relu(dx), relu(−dx), relu(dy), relu(−dy)), layer 2
    /// passes them on, layer 3 outputs them as kernel channels 0–3, a constant 1 as channel 4, relu(2·relu(dx) + 0.5)
    /// as channel 5 and 0 elsewhere.
    /// </summary>
    private static double[] Kernel(double dx, double dy)
    {
        static double Relu(double v) => Math.Max(v, 0);
        var h = new double[WeightNet.OutputWidth];
        h[0] = Relu(dx); h[1] = Relu(-dx); h[2] = Relu(dy); h[3] = Relu(-dy); h[4] = 1; h[5] = Relu(2 * Relu(dx) + 0.5);
        return h;
    }

    private static void SetKernelNetwork(LieConvolution conv)
    {
        using var noGrad = no_grad();
        var parameters = conv.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Tensor P(string suffix) => parameters.Single(p => p.Key.EndsWith("weightnet.linears." + suffix)).Value;
        foreach (var (name, p) in parameters.Where(p => p.Key.Contains("weightnet"))) p.zero_();
        var w1 = P("0.weight");                                         // (32, 2)
        w1[0, 0] = tensor(1f); w1[1, 0] = tensor(-1f); w1[2, 1] = tensor(1f); w1[3, 1] = tensor(-1f);
        var w2 = P("1.weight");                                         // (32, 32)
        for (int r = 0; r < 4; r++) w2[r, r] = tensor(1f);
        var w3 = P("2.weight");                                         // (16, 32)
        for (int r = 0; r < 4; r++) w3[r, r] = tensor(1f);
        w3[5, 0] = tensor(2f);
        var b3 = P("2.bias");
        b3[4] = tensor(1f); b3[5] = tensor(0.5f);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Output_MatchesAHandComputationOfTheKernelTrick(bool mean)
    {
        manual_seed(3);
        var conv = new LieConvolution(new Translations(2), 2, 3,
            new LieConvSettings(Neighbourhood: 5, Knn: true, Mean: mean, Activation: Activation.ReLU), Sampling.Create(0, "test"));
        Assert.That(conv.named_parameters().Count(p => p.name.Contains("weightnet")), Is.EqualTo(6), "three linears with biases");
        SetKernelNetwork(conv);
        var linear = conv.named_parameters().Where(p => !p.name.Contains("weightnet")).ToDictionary(p => p.name, p => p.parameter);
        var w = Values(linear.Single(p => p.Key.EndsWith("weight")).Value);   // (3, 2·16), row-major
        var b = Values(linear.Single(p => p.Key.EndsWith("bias")).Value);
        Assert.That(w.Length, Is.EqualTo(3 * 2 * 16));

        // out_i = W·vec(Σ_j v_j ⊗ h(x_i − x_j)) + b over the valid j (index c·16 + t), divided by the valid count with
        // Mean, bias included; 0 at a padding query.
        double[] Expected(int i)
        {
            var result = new double[3];
            if (!Valid[i]) return result;
            var p = new double[2, 16];
            int count = 0;
            for (int j = 0; j < 5; j++)
            {
                if (!Valid[j]) continue;
                count++;
                var h = Kernel(Points[i, 0] - Points[j, 0], Points[i, 1] - Points[j, 1]);
                for (int c = 0; c < 2; c++)
                    for (int t = 0; t < 16; t++) p[c, t] += Features[j, c] * h[t];
            }
            for (int o = 0; o < 3; o++)
            {
                double sum = b[o];
                for (int c = 0; c < 2; c++)
                    for (int t = 0; t < 16; t++) sum += w[o * 32 + c * 16 + t] * p[c, t];
                result[o] = mean ? sum / count : sum;
            }
            return result;
        }

        conv.eval();
        var cloud = TinyCloud();
        var all = conv.forward(cloud, null);
        var expected = tensor(Enumerable.Range(0, 5).SelectMany(Expected).ToArray(), new long[] { 1, 5, 3 });
        Assert.That(all.Values.shape, Is.EqualTo(new long[] { 1, 5, 3 }));
        Assert.That(RelativeError(all.Values, expected), Is.LessThan(1e-5), "float32 sums of O(10) terms");
        Assert.That(MaxAbs(all.Values[0, 3]), Is.EqualTo(0), "padding query");
        Assert.That(Expected(0).Select(Math.Abs).Max(), Is.GreaterThan(0.1), "the hand computation must not be trivially 0");

        // At chosen query points the layer computes the same outputs there, on the queries' elements and mask.
        var queries = tensor(new long[] { 4, 3, 1 }).unsqueeze(0);
        var some = conv.forward(cloud, queries);
        var expectedSome = tensor(new[] { 4, 3, 1 }.SelectMany(Expected).ToArray(), new long[] { 1, 3, 3 });
        Assert.That(RelativeError(some.Values, expectedSome), Is.LessThan(1e-5));
        Assert.That(Indices(some.Mask), Is.EqualTo(new long[] { 1, 0, 1 }));
        Assert.That(RelativeError(some.Elements, cloud.Elements.index_select(1, tensor(new long[] { 4, 3, 1 }))), Is.EqualTo(0));
    }

    [Test]
    public void BallMode_WithAnAllCoveringBallAndEnoughNeighbours_EqualsKnnWithAllPoints()
    {
        // Ball mode takes every in-ball point when the ball holds at most Neighbourhood points; radius 2 in T(2)
        // units (0.2·Euclidean) covers the whole tiny cloud, so the result cannot depend on the noise.
        manual_seed(4);
        var knn = new LieConvolution(new Translations(2), 2, 3, new LieConvSettings(Neighbourhood: 5, Knn: true, Mean: true), Sampling.Create(0, "a"));
        var ball = new LieConvolution(new Translations(2), 2, 3, new LieConvSettings(Neighbourhood: 5, Knn: false, Mean: true), Sampling.Create(0, "b"));
        CopyWeights(knn, ball);
        knn.eval(); ball.eval();
        var cloud = TinyCloud();
        Assert.That(RelativeError(ball.forward(cloud, null).Values, knn.forward(cloud, null).Values), Is.LessThan(1e-6));
    }

    /// <summary>Mean, over the valid queries, of the fraction of the query's cloud inside its ball (T(2): 0.2·Euclidean &lt; r).</summary>
    private static double HandFill(Tensor coordinates, Tensor mask, double radius)
    {
        var x = Values(coordinates.to(ScalarType.Float64));
        var m = mask.to(ScalarType.Bool).data<bool>().ToArray();
        long batch = coordinates.shape[0], n = coordinates.shape[1];
        double total = 0;
        int queries = 0;
        for (long b = 0; b < batch; b++)
        {
            int valid = Enumerable.Range(0, (int)n).Count(i => m[b * n + i]);
            for (long i = 0; i < n; i++)
            {
                if (!m[b * n + i]) continue;
                int inside = 0;
                for (long j = 0; j < n; j++)
                {
                    if (!m[b * n + j]) continue;
                    double dx = x[(b * n + i) * 2] - x[(b * n + j) * 2], dy = x[(b * n + i) * 2 + 1] - x[(b * n + j) * 2 + 1];
                    if (0.2 * Math.Sqrt(dx * dx + dy * dy) < radius) inside++;
                }
                total += (double)inside / valid;
                queries++;
            }
        }
        return total / queries;
    }

    [TestCase(30.0, 0.5, TestName = "Radius_GrowsWhenTheBallHoldsTooFewPoints")]
    [TestCase(1.0, 0.25, TestName = "Radius_ShrinksWhenTheBallHoldsTooManyPoints")]
    public void Radius_AdaptsInTrainingMode(double spread, double fill)
    {
        manual_seed(5);
        var clouds = RandomClouds(2, 12, 2, 2, spread);
        var mask = clouds.Mask.clone();
        mask[1, TensorIndex.Slice(8, null)] = tensor(false);           // clouds of different sizes (12 and 8)
        var cloud = LiftedCloud.Lift(new Translations(2), clouds.Coordinates, clouds.Values, mask, 1, null);
        var conv = new LieConvolution(new Translations(2), 2, 4, new LieConvSettings(Neighbourhood: 6, Fill: fill), Sampling.Create(0, "r"));
        Assert.That(conv.Radius.item<float>(), Is.EqualTo((float)LieConvolution.InitialRadius));

        conv.eval();
        conv.forward(cloud, null);
        Assert.That(conv.Radius.item<float>(), Is.EqualTo((float)LieConvolution.InitialRadius), "evaluation must not move the radius");

        conv.train();
        double observed = HandFill(clouds.Coordinates, mask, LieConvolution.InitialRadius);
        conv.forward(cloud, null);
        double expected = LieConvolution.InitialRadius + 0.5 * (fill - observed);
        Assert.That(conv.Radius.item<float>(), Is.EqualTo(expected).Within(1e-6), "r ← r + 0.5·(fill − observed fill)");
        if (spread > 10) Assert.That(expected, Is.GreaterThan(LieConvolution.InitialRadius + 0.1));
        else Assert.That(expected, Is.LessThan(LieConvolution.InitialRadius - 0.1));

        // The next step uses, and moves from, the new radius.
        double second = expected + 0.5 * (fill - HandFill(clouds.Coordinates, mask, expected));
        conv.forward(cloud, null);
        Assert.That(conv.Radius.item<float>(), Is.EqualTo(second).Within(1e-5));
    }

    [Test]
    public void Radius_DoesNotMoveInKnnMode()
    {
        var conv = new LieConvolution(new Translations(2), 2, 4, new LieConvSettings(Neighbourhood: 3, Knn: true, Fill: 0.01), Sampling.Create(0, "r"));
        conv.train();
        conv.forward(Lift(new Translations(2), RandomClouds(2, 10, 2, 2)), null);
        Assert.That(conv.Radius.item<float>(), Is.EqualTo((float)LieConvolution.InitialRadius));
    }

    [Test]
    public void Radius_IsSavedAndLoadedWithTheWeights()
    {
        var conv = new LieConvolution(new Translations(2), 2, 4, new LieConvSettings(Neighbourhood: 6, Fill: 0.9), Sampling.Create(0, "r"));
        conv.train();
        conv.forward(Lift(new Translations(2), RandomClouds(2, 10, 2, 2, scale: 40)), null);
        float moved = conv.Radius.item<float>();
        Assert.That(moved, Is.Not.EqualTo((float)LieConvolution.InitialRadius));

        var saved = conv.state_dict();
        var key = saved.Keys.Single(k => k.EndsWith("radius"));
        Assert.That(saved[key].item<float>(), Is.EqualTo(moved));
        var copy = new LieConvolution(new Translations(2), 2, 4, new LieConvSettings(Neighbourhood: 6, Fill: 0.9), Sampling.Create(0, "r"));
        copy.load_state_dict(saved);
        Assert.That(copy.Radius.item<float>(), Is.EqualTo(moved));

        // A whole network saves one radius per block.
        var net = Net("T(2)", layers: 3);
        Assert.That(net.state_dict().Keys.Count(k => k.EndsWith("radius")), Is.EqualTo(3));
    }
}
