using LieConv.Models;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;
using LieConv.Tests.Nn;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Models;

/// <summary>Reproducible evaluation and gradients with respect to the input coordinates.</summary>
[TestFixture]
public class EvaluationTests : SingleThreadedFixture
{
    private static Tensor Evaluate(nn.Module<PointCloudBatch, Tensor> net, PointCloudBatch batch)
    {
        using var noGrad = no_grad();
        return net.forward(batch);
    }

    [Test]
    public void EvaluationWithASeed_IsBitReproducible_AndTheSeedMatters()
    {
        // SE2 with 2 lift samples, subsampling and random ball subsets: every kind of draw is involved.
        manual_seed(60);
        var net = Net("SE2(0.2)", layers: 2, downsample: 0.6, liftSamples: 2, neighbourhood: 5, evaluationSeed: 7);
        AmplifyWeights(net);
        net.eval();
        var clouds = RandomClouds(3, 16, 2, 2);
        var first = Evaluate(net, clouds);
        rand(100);                                                        // the global generator's state must not matter
        Assert.That(Identical(first, Evaluate(net, clouds)), Is.True, "two evaluations");

        // Another network with the same weights and seed predicts the same; another seed gives other draws.
        var same = Net("SE2(0.2)", layers: 2, downsample: 0.6, liftSamples: 2, neighbourhood: 5, evaluationSeed: 7);
        var otherSeed = Net("SE2(0.2)", layers: 2, downsample: 0.6, liftSamples: 2, neighbourhood: 5, evaluationSeed: 8);
        CopyWeights(net, same);
        CopyWeights(net, otherSeed);
        same.eval(); otherSeed.eval();
        Assert.That(Identical(first, Evaluate(same, clouds)), Is.True, "same seed, new network");
        Assert.That(RelativeError(Evaluate(otherSeed, clouds), first), Is.GreaterThan(1e-4), "another seed");

        // Training mode draws from the global generator.
        net.train();
        Assert.That(RelativeError(net.forward(clouds), net.forward(clouds)), Is.GreaterThan(1e-4), "training draws");
    }

    [Test]
    public void EvaluationWithoutASeed_IsRandom()
    {
        manual_seed(61);
        var net = Net("SE2(0.2)", layers: 1, liftSamples: 2, neighbourhood: 5, evaluationSeed: null);
        AmplifyWeights(net);
        net.eval();
        var clouds = RandomClouds(2, 16, 2, 2);
        Assert.That(RelativeError(Evaluate(net, clouds), Evaluate(net, clouds)), Is.GreaterThan(1e-4));
    }

    [Test]
    public void ImageAndMoleculeNetworks_EvaluateReproducibly()
    {
        manual_seed(62);
        var image = new ImageLieResNet(new ImageLieResNetOptions
        {
            Group = "SE2(0.2)", Classes = 3, Layers = 2, Channels = 16, TotalDownsample = 0.5, Neighbourhood = 6, LiftSamples = 2, CropRadius = 6,
        });
        image.eval();
        var images = randn(2, 1, 12, 12);
        using (no_grad())
        {
            var a = image.forward(images);
            Assert.That(Identical(a, image.forward(images)), Is.True, "image network");
            Assert.That(RelativeError(a[1], image.forward(images.narrow(0, 1, 1))[0]), Is.LessThan(1e-5), "an image alone and in a batch");
        }

        var molecule = new MoleculeLieResNet(new MoleculeLieResNetOptions { Species = new[] { 1, 6 }, Group = "SE3(0.2)", Channels = 16, Layers = 1, Neighbourhood = 4, LiftSamples = 2 });
        molecule.eval();
        var batch = new MoleculeBatch(randn(2, 7, 3), tensor(new float[,] { { 1, 6, 6, 1, 1, 0, 0 }, { 6, 6, 1, 1, 1, 1, 1 } }));
        using (no_grad()) Assert.That(Identical(molecule.forward(batch), molecule.forward(batch)), Is.True, "molecule network");
    }

    private static IEnumerable<TestCaseData> GradientCases()
    {
        yield return new TestCaseData(false, false).SetArgDisplayNames("eval, kNN");
        yield return new TestCaseData(true, false).SetArgDisplayNames("training, kNN");
        yield return new TestCaseData(false, true).SetArgDisplayNames("eval, ball, subsampling");
    }

    [TestCaseSource(nameof(GradientCases))]
    public void GradientsReachTheCoordinates_AndMatchFiniteDifferences(bool training, bool ball)
    {
        // Needed by Hamiltonian models, which differentiate the network with respect to positions. float64, so that a
        // central difference (step 1e-6) is accurate to ~1e-8; neighbourhoods and subsamples are piecewise constant
        // in the coordinates and do not change for such a step.
        manual_seed(63);
        var net = Net("T(2)", layers: 2, knn: !ball, neighbourhood: 5, downsample: ball ? 0.7 : 1, outputs: 1);
        AmplifyWeights(net);
        net.to(ScalarType.Float64);
        net.train(training);
        var clouds = RandomClouds(2, 10, 2, 2, dtype: ScalarType.Float64);
        var padded = AppendPadding(clouds, 3);                            // NaN padding must not poison the gradient
        var coordinates = padded.Coordinates.detach().requires_grad_(true);
        var output = net.forward(padded with { Coordinates = coordinates });
        output.sum().backward();
        var gradient = coordinates.grad!;
        Assert.That(AllFinite(gradient), Is.True);
        Assert.That(MaxAbs(gradient.narrow(1, 0, 10)), Is.GreaterThan(1e-4), "real points");
        Assert.That(MaxAbs(gradient.narrow(1, 10, 3)), Is.EqualTo(0), "padding");

        // Directional derivative along a random direction of the real points. In training mode the batch-norm
        // statistics depend on the input too, which backward accounts for; draws come from the global generator, so
        // they are replayed by reseeding (kNN draws nothing; the training lift of T(2) is deterministic).
        var direction = cat(new[] { randn(2, 10, 2, dtype: ScalarType.Float64), zeros(2, 3, 2, dtype: ScalarType.Float64) }, 1);
        const double step = 1e-6;
        double F(double t)
        {
            using var noGrad = no_grad();
            return net.forward(padded with { Coordinates = padded.Coordinates + t * direction }).sum().item<double>();
        }
        double numeric = (F(step) - F(-step)) / (2 * step);
        double analytic = (gradient * direction).nan_to_num().sum().item<double>();
        Assert.That(Math.Abs(numeric - analytic), Is.LessThan(1e-6 * Math.Max(1, Math.Abs(analytic))), $"numeric {numeric}, analytic {analytic}");
    }
}
