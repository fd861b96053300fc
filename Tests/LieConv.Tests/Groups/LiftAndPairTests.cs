using LieConv.Groups;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;

namespace LieConv.Tests.Groups;

[TestFixture]
public class LiftAndPairTests
{
    private static IEnumerable<TestCaseData> Groups => GroupCatalog.AllGroups.Select(create =>
    {
        var group = create();
        return new TestCaseData(create).SetArgDisplayNames(group.ToString());
    });

    private static int SamplesFor(LieGroup group) => group.HasRandomLift ? 3 : 1;

    /// <summary>Random points, plus points on the axes, on −e_x and (where the group allows it) the origin.</summary>
    private static Tensor Points(LieGroup group, ScalarType dtype, long clouds = 2, long n = 20)
    {
        var x = randn(clouds, n, group.SpaceDim, dtype: ScalarType.Float64) * 1.5;
        x[0, 0] = zeros(group.SpaceDim, dtype: ScalarType.Float64);
        x[0, 0, 0] = tensor(-2.0);                                          // on −e_x: SO(3)'s lift must turn half around
        x[0, 1] = zeros(group.SpaceDim, dtype: ScalarType.Float64);
        x[0, 1, 0] = tensor(0.7);
        return x.to(dtype);
    }

    /// <summary>A random element of the group, as a matrix.</summary>
    private static Tensor RandomElement(LieGroup group, ScalarType dtype) =>
        group.Exp((rand(group.LieDim, dtype: ScalarType.Float64) * 4 - 2).to(dtype));

    /// <summary>All pair features of a lifted cloud: (clouds, N, N, PairDim).</summary>
    private static Tensor AllPairs(LieGroup group, LiftedPoints lifted) => group.PairFeatures(
        lifted.Elements.unsqueeze(-2), lifted.Orbits.unsqueeze(-2), lifted.Elements.unsqueeze(-3), lifted.Orbits.unsqueeze(-3));

    [TestCaseSource(nameof(Groups))]
    public void Lift_IsASectionOfTheOrbitMap(Func<LieGroup> create)
    {
        var group = create();
        var x = Points(group, ScalarType.Float64);
        var generator = RandomSource.FromGenerator(TorchRuntime.CreateGenerator(7, "lift"));
        var lifted = group.Lift(x, SamplesFor(group), generator);
        int ns = SamplesFor(group);
        Assert.That(lifted.Elements.shape, Is.EqualTo(new long[] { 2, 20 * ns, group.LieDim }));
        Assert.That(lifted.Orbits.shape, Is.EqualTo(new long[] { 2, 20 * ns, group.QDim }));
        // u·o(q) = x for every lift sample of every point.
        var recovered = group.Act(group.Exp(lifted.Elements), group.OrbitOrigin(lifted.Orbits));
        Assert.That(RelativeError(recovered, x.repeat_interleave(ns, dim: -2)), Is.LessThan(1e-12));
    }

    [TestCaseSource(nameof(Groups))]
    public void PairFeatures_AreInvariantUnderTheGroupAction(Func<LieGroup> create)
    {
        var group = create();
        foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
        {
            manual_seed(11);
            var x = Points(group, dtype);
            var g = RandomElement(group, dtype);
            var gx = group.Act(g, x);
            var generator = RandomSource.FromGenerator(TorchRuntime.CreateGenerator(3, "lift"));
            var stabilizer = group.SampleStabilizer(x, SamplesFor(group), generator);

            // The lift of g·x that matches the lift s(x)·h of x uses h' = s(gx)⁻¹·g·s(x)·h. It must again be a
            // stabilizer element, i.e. the lift of g·x differs from g·(lift of x) only inside the stabilizer,
            // which is what makes the randomly lifted network equivariant in distribution.
            var gu = matmul(g, group.Exp(group.Compose(group.Section(x).unsqueeze(-2), stabilizer)));
            var matching = group.Log(matmul(group.Inverse(group.Exp(group.Section(gx))).unsqueeze(-3), gu));
            var origin = group.OrbitOrigin(group.Orbit(x)).unsqueeze(-2);
            Assert.That(RelativeError(group.Act(group.Exp(matching), origin), origin.expand_as(group.Act(group.Exp(matching), origin))),
                Is.LessThan(dtype == ScalarType.Float64 ? 1e-10 : 2e-5), $"{group} {dtype}: h' is not in the stabilizer");

            var before = AllPairs(group, group.Lift(x, stabilizer));
            var after = AllPairs(group, group.Lift(gx, matching));
            Assert.That(after.dtype, Is.EqualTo(dtype));
            double tolerance = dtype == ScalarType.Float64 ? 1e-9 : 1e-5;
            AssertSamePairs(group, after, before, tolerance, $"{group} {dtype}: pairs changed under the action");

            if (SamplesFor(group) == 1)
            {
                // Deterministic lifts need no matching at all.
                var direct = AllPairs(group, group.Lift(gx));
                AssertSamePairs(group, direct, before, tolerance, $"{group} {dtype}: lift(g·x) pairs");
            }
        }
    }

    /// <summary>
    /// Pairs are compared as group elements exp(log v⁻¹u) plus orbit features: the principal log itself jumps where
    /// the rotation angle crosses π (e.g. for a point on −e_x), and either side of the jump is the same element.
    /// </summary>
    private static void AssertSamePairs(LieGroup group, Tensor actual, Tensor expected, double tolerance, string message)
    {
        var (a, qa, qa2) = group.SplitPairFeatures(actual);
        var (e, qe, qe2) = group.SplitPairFeatures(expected);
        Assert.That(RelativeError(group.Exp(a), group.Exp(e)), Is.LessThan(tolerance), message + " (pair elements)");
        Assert.That(RelativeError(cat(new[] { qa, qa2 }, -1), cat(new[] { qe, qe2 }, -1)), Is.LessThan(tolerance), message + " (orbits)");
        int[] rotationAxes = group switch { SO2 or SE2 => new[] { 0 }, RxSO2 => new[] { 1 }, SO3 or SE3 => new[] { 0, 1, 2 }, _ => Array.Empty<int>() };
        var difference = (actual - expected).abs().amax(new long[] { -1 });
        var offCut = rotationAxes.Length == 0 ? difference
            : difference.masked_select(e.index_select(-1, tensor(rotationAxes.Select(i => (long)i).ToArray())).square().sum(-1).sqrt() < Math.PI - 1e-4);
        Assert.That(MaxAbs(offCut), Is.LessThan(tolerance * Math.Max(1, MaxAbs(expected))), message + " (pair features)");
    }

    [Test]
    public void PairFeatures_OfTheTrivialGroup_ChangeUnderTranslation()
    {
        // The invariance test above must be able to fail: the trivial group sees absolute positions.
        var group = new Trivial(2);
        var x = randn(1, 10, 2, dtype: ScalarType.Float64);
        var moved = new Translations(2).Act(new Translations(2).Exp(tensor(new[] { 0.5, -1.0 })), x);
        Assert.That(RelativeError(AllPairs(group, group.Lift(moved)), AllPairs(group, group.Lift(x))), Is.GreaterThan(0.1));
    }

    [TestCaseSource(nameof(Groups))]
    public void Distance_IsSymmetricNonNegativeAndZeroOnTheDiagonal(Func<LieGroup> create)
    {
        var group = create();
        var x = Points(group, ScalarType.Float64);
        var lifted = group.Lift(x, SamplesFor(group), RandomSource.FromGenerator(TorchRuntime.CreateGenerator(5, "lift")));
        var distances = group.Distance(AllPairs(group, lifted));
        long n = lifted.Elements.shape[1];
        Assert.That(distances.shape, Is.EqualTo(new long[] { 2, n, n }));
        Assert.That(distances.min().item<double>(), Is.GreaterThanOrEqualTo(0));
        Assert.That(MaxAbs(distances - distances.transpose(1, 2)), Is.LessThan(1e-9));
        Assert.That(MaxAbs(distances.diagonal(dim1: 1, dim2: 2)), Is.LessThan(1e-9));
    }

    [TestCaseSource(nameof(Groups))]
    public void PairDistance_EqualsTheDistanceOfThePairFeatures(Func<LieGroup> create)
    {
        // Groups may compute distances in closed form (SE(2)); it must agree with the pair-feature route.
        var group = create();
        foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
        {
            var x = Points(group, dtype);
            var lifted = group.Lift(x, SamplesFor(group), RandomSource.FromGenerator(TorchRuntime.CreateGenerator(9, "lift")));
            var (u, qu, v, qv) = (lifted.Elements.unsqueeze(-2), lifted.Orbits.unsqueeze(-2), lifted.Elements.unsqueeze(-3), lifted.Orbits.unsqueeze(-3));
            var expected = group.Distance(group.PairFeatures(u, qu, v, qv));
            Assert.That(RelativeError(group.PairDistance(u, qu, v, qv), expected), Is.LessThan(dtype == ScalarType.Float64 ? 1e-12 : 1e-5), $"{group} {dtype}");
        }
    }

    [TestCaseSource(nameof(Groups))]
    public void DistanceCoordinates_GatheredPerPair_GiveThePairDistance(Func<LieGroup> create)
    {
        // Ball searches gather each candidate's distance coordinates instead of its group element.
        var group = create();
        var x = Points(group, ScalarType.Float32);
        var lifted = group.Lift(x, SamplesFor(group), RandomSource.FromGenerator(TorchRuntime.CreateGenerator(9, "lift")));
        var (elements, orbits) = (lifted.Elements, lifted.Orbits);                 // (2, n, ·)
        long n = elements.shape[1];
        var pick = randperm(n).narrow(0, 0, Math.Min(n, 5)).view(1, 1, -1).expand(2, n, -1);
        static Tensor Gather(Tensor t, Tensor at) => t.unsqueeze(1).expand(t.shape[0], at.shape[1], t.shape[1], t.shape[2])
            .gather(2, at.unsqueeze(-1).expand(at.shape[0], at.shape[1], at.shape[2], t.shape[2]));
        var expected = group.PairDistance(elements.unsqueeze(2), orbits.unsqueeze(2), Gather(elements, pick), Gather(orbits, pick));
        var coordinates = group.DistanceCoordinates(elements);
        var actual = group.CoordinatePairDistance(coordinates.unsqueeze(2), orbits.unsqueeze(2), Gather(coordinates, pick), Gather(orbits, pick));
        Assert.That(MaxAbs(actual - expected), Is.LessThan(1e-6), group.ToString());
    }

    [Test]
    public void Distances_FollowTheOriginalFormulas()
    {
        var p = tensor(new[] { 1.0, 0.0 });
        var q = tensor(new[] { 0.0, 2.0 });
        var x = stack(new[] { p, q }).unsqueeze(0);
        double D(LieGroup g) => g.Distance(AllPairs(g, g.Lift(x)))[0, 0, 1].item<double>();

        Assert.That(D(new Translations(2)), Is.EqualTo(0.2 * Math.Sqrt(5)).Within(1e-12));
        Assert.That(D(new Trivial(2)), Is.EqualTo(0.8 * Math.Sqrt(5)).Within(1e-12));
        Assert.That(D(new SO2(0.2)), Is.EqualTo(0.2 * Math.PI / 2 + 0.8 * 1.0 / 3.001).Within(1e-12));
        Assert.That(D(new RxSO2(0.3)), Is.EqualTo(0.3 * Math.PI / 2 + 0.7 * Math.Log(2)).Within(1e-12));
        Assert.That(D(Subgroup.Tx()), Is.EqualTo(0.2 * 1 + 0.8 * 2).Within(1e-12));
        Assert.That(D(Subgroup.Rx(0.1)), Is.EqualTo(0.1 * Math.Log(2) + 0.9 * Math.PI / 2).Within(1e-12));
    }

    [Test]
    public void SO3Lift_StabilizerAnglesAreUniform_AndSE3LiftRotationsAreHaar()
    {
        var generator = RandomSource.FromGenerator(TorchRuntime.CreateGenerator(1, "stats"));
        var points = randn(1, 4000, 3, dtype: ScalarType.Float64);
        var angles = new SO3().SampleStabilizer(points, 5, generator).select(-1, 0).flatten();
        // Uniform on [0, 2π): E cos = E sin = 0, E φ = π, and a Kolmogorov–Smirnov distance well under 1.63/√n (p = 0.01).
        Assert.That(Math.Abs(angles.cos().mean().item<double>()), Is.LessThan(0.03));
        Assert.That(Math.Abs(angles.sin().mean().item<double>()), Is.LessThan(0.03));
        var sorted = angles.sort().Values / (2 * Math.PI);
        long count = sorted.numel();
        var ecdf = arange(1, count + 1, dtype: ScalarType.Float64) / count;
        Assert.That(MaxAbs(sorted - ecdf), Is.LessThan(1.63 / Math.Sqrt(count)));

        // Haar rotations have E[R] = 0 and E[tr R] = 0; rotations drawn with the original's
        // "angle of a Haar rotation about a fixed axis" would not.
        var rotations = SO3Rotations(new SE3().SampleStabilizer(points, 5, generator).narrow(-1, 0, 3));
        var mean = rotations.flatten(0, -3).mean(new long[] { 0 });
        Assert.That(MaxAbs(mean), Is.LessThan(0.03));
    }

    private static Tensor SO3Rotations(Tensor w) => new SO3().Exp(w);

    [Test]
    public void SE3Lift_SharesRotationsAcrossACloud_WhenNotPerPoint()
    {
        var points = randn(2, 6, 3, dtype: ScalarType.Float64);
        var shared = new SE3(perPointLift: false).SampleStabilizer(points, 2, RandomSource.FromGenerator(TorchRuntime.CreateGenerator(1, "lift")));
        Assert.That(MaxAbs(shared[TensorIndex.Colon, 0] - shared[TensorIndex.Colon, 5]), Is.EqualTo(0));
        Assert.That(MaxAbs(shared[0] - shared[1]), Is.GreaterThan(0));
        var own = new SE3().SampleStabilizer(points, 2, RandomSource.FromGenerator(TorchRuntime.CreateGenerator(1, "lift")));
        Assert.That(MaxAbs(own[TensorIndex.Colon, 0] - own[TensorIndex.Colon, 5]), Is.GreaterThan(0));
    }

    [Test]
    public void Lift_IsReproducibleFromAGeneratorSeed_AndSE2SamplesAreEvenlySpaced()
    {
        var group = new SE2(0.05);
        var x = randn(3, 8, 2);
        var first = group.Lift(x, 2, RandomSource.FromGenerator(TorchRuntime.CreateGenerator(42, "lift"))).Elements;
        var second = group.Lift(x, 2, RandomSource.FromGenerator(TorchRuntime.CreateGenerator(42, "lift"))).Elements;
        var other = group.Lift(x, 2, RandomSource.FromGenerator(TorchRuntime.CreateGenerator(43, "lift"))).Elements;
        Assert.That(MaxAbs(first - second), Is.EqualTo(0));
        Assert.That(MaxAbs(first - other), Is.GreaterThan(0));
        // With two samples the lifts of a point differ by a half turn, as in the original.
        var angles = first.select(-1, 0).reshape(3, 8, 2);
        var difference = TensorMath.WrapAngle(angles.select(-1, 1) - angles.select(-1, 0)).abs();
        Assert.That(MaxAbs(difference - Math.PI), Is.LessThan(1e-5));
    }

    [Test]
    public void Lift_RejectsBadShapesAndSampleCounts()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SE3().Lift(randn(2, 5, 2)));
        Assert.That(ex!.Message, Does.Contain("(…, n, 3)").And.Contain("2, 5, 2"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Translations(2).Lift(randn(1, 5, 2), 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SE2().Lift(randn(1, 5, 2), 0));
    }

    [Test]
    public void Lift_GradientsAreFiniteAtTheOriginAndAtCoincidentPoints()
    {
        foreach (var group in new LieGroup[] { new Translations(2), new SO2(), new RxSO2(), new Trivial(2), new SO3(), Subgroup.Rx() })
        {
            var x = zeros(1, 3, group.SpaceDim, dtype: ScalarType.Float64).requires_grad_(true);
            var lifted = group.Lift(x);
            var pairs = AllPairs(group, lifted);
            (pairs.sum() + group.Distance(pairs).sum()).backward();
            Assert.That(AllFinite(x.grad!), $"{group}: NaN gradient at the origin");
        }
    }
}
