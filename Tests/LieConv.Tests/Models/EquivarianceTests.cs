using LieConv.Groups;
using LieConv.Models;
using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;
using LieConv.Tests.Nn;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Models;

/// <summary>
/// Exact invariance of whole networks for groups with random lifts: lifting g·x with the stabilizer samples
/// h' = s(gx)⁻¹·g·s(x)·h that match the samples h of x gives the lifted cloud g·(lift of x), whose pair features
/// equal those of x. A network that only sees pair features (neighbourhoods, subsampling, kernels) must then give
/// the same output. Together with uniformly distributed stabilizer samples (the group tests), this is what makes
/// the randomly lifted network invariant in distribution.
/// </summary>
[TestFixture]
public class EquivarianceTests : SingleThreadedFixture
{
    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData("SE2(0.2)", 1, 0.5, new[] { 0.9, 1.5, -2.0 }).SetArgDisplayNames("SE2, 1 lift sample, subsampling");
        // With 3 samples per point, the two other samples of a chosen one are exactly equidistant from it (|θ| = 2π/3,
        // b = 0), so farthest point sampling meets exact ties that rounding breaks either way (measured: 0.28
        // relative). That is harmless in distribution (the samples are exchangeable), but not exact: no subsampling here.
        yield return new TestCaseData("SE2(0.2)", 3, 1.0, new[] { 0.9, 1.5, -2.0 }).SetArgDisplayNames("SE2, 3 lift samples");
        yield return new TestCaseData("SO3(0.2)", 2, 0.5, new[] { 0.4, -1.3, 2.2 }).SetArgDisplayNames("SO3, 2 lift samples, subsampling");
        yield return new TestCaseData("SE3(0.2)", 2, 0.5, new[] { -1.1, 0.6, 2.0, 1.5, -0.5, 0.8 }).SetArgDisplayNames("SE3, 2 lift samples, subsampling");
        yield return new TestCaseData("SO2(0.2)", 1, 0.5, new[] { 2.3 }).SetArgDisplayNames("SO2, subsampling");
        yield return new TestCaseData("T(3)", 1, 0.5, new[] { 1.0, -2.0, 0.5 }).SetArgDisplayNames("T(3), subsampling");
    }

    [Test]
    public void WithMatchedLifts_AnSE2NetworkWithTwoLiftSamplesIsExactlyInvariant() =>
        WithMatchedLifts_TheNetworkIsExactlyInvariant("SE2(0.2)", 2, 1.0, new[] { 0.9, 1.5, -2.0 });

    [TestCaseSource(nameof(Cases))]
    public void WithMatchedLifts_TheNetworkIsExactlyInvariant(string spec, int ns, double downsample, double[] algebra)
    {
        // Subsampling (½ per block, where possible) and random ball subsets (6 of the in-ball points) are on: their draws
        // depend only on the point order, which is the same for x and g·x. float64 so that no near-tie of distances
        // (ball edge, farthest point) can be resolved differently: 1e-9 relative.
        manual_seed(50);
        var group = LieGroup.Parse(spec);
        var net = Net(spec, layers: 2, downsample: downsample, liftSamples: ns, neighbourhood: 6, fill: 0.3);
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.to(ScalarType.Float64);
        net.eval();

        var x = randn(2, 12, group.SpaceDim, dtype: ScalarType.Float64) * 1.5;
        var values = randn(2, 12, 2, dtype: ScalarType.Float64);
        var mask = ones(2, 12, dtype: ScalarType.Bool);
        var g = group.Exp(tensor(algebra));
        var gx = group.Act(g, x);
        var h = group.SampleStabilizer(x, ns, RandomSource.Counter(5));
        var gu = matmul(g, group.Exp(group.Compose(group.Section(x).unsqueeze(-2), h)));
        var matching = group.Log(matmul(group.Inverse(group.Exp(group.Section(gx))).unsqueeze(-3), gu));

        LiftedCloud Cloud(Tensor points, Tensor stabilizer)
        {
            var lifted = group.Lift(points, stabilizer);
            return new LiftedCloud(lifted.Elements, lifted.Orbits, values.repeat_interleave(ns, dim: 1), mask.repeat_interleave(ns, dim: 1));
        }

        using var noGrad = no_grad();
        var reference = net.Forward(Cloud(x, h));
        Assert.That(MaxAbs(reference), Is.GreaterThan(1e-2));
        Assert.That(RelativeError(net.Forward(Cloud(gx, matching)), reference), Is.LessThan(1e-9));

        // Control: the same points and samples without the transformation of x, i.e. a genuinely different cloud.
        var bent = x.clone();
        bent[TensorIndex.Colon, 0] = bent[TensorIndex.Colon, 0] * 1.5;
        Assert.That(RelativeError(net.Forward(Cloud(bent, h)), reference), Is.GreaterThan(1e-3));
        if (group.HasRandomLift)
        {
            // The samples matter: other (equally valid) samples of the same cloud give another output.
            var other = group.SampleStabilizer(x, ns, RandomSource.Counter(6));
            Assert.That(RelativeError(net.Forward(Cloud(x, other)), reference), Is.GreaterThan(1e-3));
        }
    }
}
