using LieConv.Groups;
using LieConv.Models;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;
using LieConv.Tests.Nn;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Models;

/// <summary>
/// Exact properties of evaluation-mode predictions: padding, batch composition, point order and (for T(d))
/// translations do not matter. Exact up to float32 rounding of sums taken in another order: 1e-5 relative.
/// </summary>
[TestFixture]
public class InvarianceTests : SingleThreadedFixture
{
    private const double Float32Tolerance = 1e-5;

    private static Tensor Evaluate(nn.Module<PointCloudBatch, Tensor> net, PointCloudBatch batch)
    {
        using var noGrad = no_grad();
        return net.forward(batch);
    }

    private static Tensor Evaluate(MoleculeLieResNet net, MoleculeBatch batch)
    {
        using var noGrad = no_grad();
        return net.forward(batch);
    }

    private static IEnumerable<TestCaseData> PlaneNetworks()
    {
        // Ball mode with fewer neighbours than in-ball points, so that the random subsets (counter draws) matter.
        yield return new TestCaseData("T(2)", 1, false).SetArgDisplayNames("T(2), ball");
        yield return new TestCaseData("T(2)", 1, true).SetArgDisplayNames("T(2), kNN");
        yield return new TestCaseData("SE2(0.2)", 2, false).SetArgDisplayNames("SE2, 2 lift samples, ball");
        yield return new TestCaseData("SO2(0.2)", 1, false).SetArgDisplayNames("SO2, ball");
    }

    [TestCaseSource(nameof(PlaneNetworks))]
    public void AppendingPadding_DoesNotChangeEvaluationOutputs(string group, int liftSamples, bool knn)
    {
        manual_seed(30);
        var net = Net(group, layers: 2, liftSamples: liftSamples, knn: knn, neighbourhood: 6, fill: 0.3);
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.eval();
        var clouds = RandomClouds(3, 20, 2, 2);
        var reference = Evaluate(net, clouds);
        var nanPadded = Evaluate(net, AppendPadding(clouds, 9));
        var randomPadded = AppendPadding(clouds, 13, 0);
        randomPadded.Coordinates.narrow(1, 20, 13).copy_(randn(3, 13, 2) * 2);   // padding inside the cloud's extent
        randomPadded.Values.narrow(1, 20, 13).copy_(randn(3, 13, 2));
        Assert.That(AllFinite(nanPadded), Is.True, "NaN padding must not reach the outputs");
        Assert.That(RelativeError(nanPadded, reference), Is.LessThan(Float32Tolerance), "NaN padding");
        Assert.That(RelativeError(Evaluate(net, randomPadded), reference), Is.LessThan(Float32Tolerance), "random padding");
        Assert.That(MaxAbs(reference), Is.GreaterThan(1e-3), "outputs must not be trivially 0");
    }

    private static MoleculeBatch RandomMolecules(long count, long atoms, long seed)
    {
        manual_seed(seed);
        var positions = randn(count, atoms, 3) * 1.5;
        var charges = tensor(new float[] { 1, 6, 8 }).index_select(0, randint(0, 3, new[] { count * atoms })).reshape(count, atoms);
        return new MoleculeBatch(positions, charges);
    }

    private static MoleculeLieResNet Molecules(string group, int liftSamples, long neighbourhood = 6, bool knn = false, long? seed = 0) =>
        new(new MoleculeLieResNetOptions
        {
            Species = new[] { 1, 6, 8 }, Group = group, Channels = 16, Layers = 2, Neighbourhood = neighbourhood, Knn = knn,
            LiftSamples = liftSamples, Fill = 0.5, EvaluationSeed = seed,
        });

    [TestCase("SE3(0.2)", 2)]
    [TestCase("SO3(0.2)", 2)]
    [TestCase("T(3)", 1)]
    public void PaddingAtoms_DoNotChangeMoleculePredictions(string group, int liftSamples)
    {
        var molecules = RandomMolecules(3, 10, 31);
        var net = Molecules(group, liftSamples);
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.eval();
        var reference = Evaluate(net, molecules);
        var padded = new MoleculeBatch(cat(new[] { molecules.Positions, randn(3, 7, 3) * 1.5 }, 1), cat(new[] { molecules.Charges, zeros(3, 7) }, 1));
        Assert.That(RelativeError(Evaluate(net, padded), reference), Is.LessThan(Float32Tolerance));

        // A batch of molecules of different sizes: each is predicted as it would be alone, unpadded.
        var smaller = new MoleculeBatch(molecules.Positions.narrow(1, 0, 6).narrow(0, 1, 1), molecules.Charges.narrow(1, 0, 6).narrow(0, 1, 1));
        var mixed = new MoleculeBatch(molecules.Positions.clone(), molecules.Charges.clone());
        mixed.Charges[1, TensorIndex.Slice(6, null)] = tensor(0f);
        var together = Evaluate(net, mixed);
        Assert.That(RelativeError(together[1], Evaluate(net, smaller)[0]), Is.LessThan(Float32Tolerance));
        Assert.That(RelativeError(together[0], reference[0]), Is.LessThan(Float32Tolerance));
    }

    [TestCase("T(2)", 1)]
    [TestCase("SE2(0.2)", 2)]
    public void ACloudIsPredictedTheSameAloneAndInsideABatch(string group, int liftSamples)
    {
        manual_seed(32);
        var net = Net(group, layers: 2, downsample: 0.6, liftSamples: liftSamples, neighbourhood: 5);
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.eval();
        var clouds = RandomClouds(4, 16, 2, 2);
        var batch = Evaluate(net, clouds);
        for (long i = 0; i < 4; i++)
            Assert.That(RelativeError(batch[i], Evaluate(net, Take(clouds, i))[0]), Is.LessThan(Float32Tolerance), $"cloud {i}");
        Assert.That(MaxAbs(batch[0] - batch[1]), Is.GreaterThan(1e-4), "different clouds must get different outputs");
    }

    [TestCase(true, TestName = "PermutingPoints_DoesNotChangeThePooledOutput_Knn")]
    [TestCase(false, TestName = "PermutingPoints_DoesNotChangeThePooledOutput_BallWithRoomForAll")]
    public void PermutingPoints_DoesNotChangeThePooledOutput(bool knn)
    {
        // Without subsampling and with Neighbourhood ≥ cloud size every query sees all points (kNN) or all in-ball
        // points (ball), so no draw matters and the network is a symmetric function of the points; its per-point
        // outputs permute with the points.
        manual_seed(33);
        var pooled = Net("T(2)", layers: 2, knn: knn, neighbourhood: 30, fill: 0.3);
        var perPoint = Net("T(2)", layers: 2, knn: knn, neighbourhood: 30, fill: 0.3, pool: false);
        RandomiseRunningStatistics(pooled);
        AmplifyWeights(pooled);
        CopyWeights(pooled, perPoint);
        using (no_grad()) foreach (var block in pooled.Blocks.Concat(perPoint.Blocks)) block.Convolution.Radius.fill_(1.0f);  // a ball of ~¼ of the cloud
        pooled.eval(); perPoint.eval();
        var clouds = RandomClouds(2, 20, 2, 2);
        var order = randperm(20);
        var permuted = new PointCloudBatch(clouds.Coordinates.index_select(1, order), clouds.Values.index_select(1, order), clouds.Mask);
        Assert.That(RelativeError(Evaluate(pooled, permuted), Evaluate(pooled, clouds)), Is.LessThan(Float32Tolerance));
        Assert.That(RelativeError(Evaluate(perPoint, permuted), Evaluate(perPoint, clouds).index_select(1, order)), Is.LessThan(Float32Tolerance));
    }

    private static IEnumerable<TestCaseData> TranslationCases()
    {
        yield return new TestCaseData(2, 1.0, false).SetArgDisplayNames("T(2), no subsampling");
        yield return new TestCaseData(2, 0.5, false).SetArgDisplayNames("T(2), subsampling ½, ball");
        yield return new TestCaseData(2, 0.5, true).SetArgDisplayNames("T(2), subsampling ½, kNN");
        yield return new TestCaseData(3, 0.6, false).SetArgDisplayNames("T(3), subsampling 0.6, ball");
    }

    [TestCaseSource(nameof(TranslationCases))]
    public void TranslationNetworks_AreExactlyTranslationInvariant(int dim, double downsample, bool knn)
    {
        manual_seed(34);
        var net = Net($"T({dim})", layers: 2, downsample: downsample, knn: knn, neighbourhood: 6);
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.eval();
        var clouds = RandomClouds(3, 24, dim, 2);
        var shift = (rand(1, 1, dim) * 8 - 4);
        var moved = clouds with { Coordinates = clouds.Coordinates + shift };
        var reference = Evaluate(net, clouds);
        // Pair features are differences, exact up to rounding of the shifted coordinates (|x| ≲ 10, float32).
        Assert.That(RelativeError(Evaluate(net, moved), reference), Is.LessThan(Float32Tolerance));
        Assert.That(MaxAbs(reference), Is.GreaterThan(1e-3));
    }

    [Test]
    public void TheTrivialGroupNetwork_IsNotInvariant()
    {
        // Negative control for the invariance tests above: Trivial(2) kernels see absolute positions.
        manual_seed(35);
        var net = Net("Trivial(2)", layers: 2, neighbourhood: 6);
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.eval();
        var clouds = RandomClouds(3, 20, 2, 2);
        var reference = Evaluate(net, clouds);
        var translated = clouds with { Coordinates = clouds.Coordinates + tensor(new[] { 1.5f, -1.0f }) };
        var rotation = tensor(new float[,] { { 0, -1 }, { 1, 0 } });
        var rotated = clouds with { Coordinates = matmul(clouds.Coordinates, rotation.t()) };
        Assert.That(RelativeError(Evaluate(net, translated), reference), Is.GreaterThan(1e-2), "translation");
        Assert.That(RelativeError(Evaluate(net, rotated), reference), Is.GreaterThan(1e-2), "rotation by 90°");

        // The same cloud and shift leave the T(2) network unchanged (so the difference above is the group's doing).
        var translationNet = Net("T(2)", layers: 2, neighbourhood: 6);
        AmplifyWeights(translationNet);
        translationNet.eval();
        Assert.That(RelativeError(Evaluate(translationNet, translated), Evaluate(translationNet, clouds)), Is.LessThan(Float32Tolerance));
    }
}
