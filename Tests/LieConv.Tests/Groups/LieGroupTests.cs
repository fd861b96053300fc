using NUnit.Framework;
using LieConv.Groups;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.ReferenceMath;
using static LieConv.Tests.Groups.TensorTestHelpers;

namespace LieConv.Tests.Groups;

[TestFixture]
public class LieGroupTests
{
    private static IEnumerable<GroupCatalog.Case> Cases => GroupCatalog.All;
    private static IEnumerable<GroupCatalog.Case> CasesWithRotation => GroupCatalog.All.Where(c => c.RotationAxes.Length > 0);

    private static readonly double[] Scales = Enumerable.Range(0, 10).Select(i => Math.Pow(10, -5 + 7.0 * i / 9)).ToArray();

    [SetUp]
    public void Seed() => manual_seed(1234);

    /// <summary>Random algebra coordinates with magnitude ~scale and random signs.</summary>
    private static Tensor RandomAlgebra(long[] leading, int lieDim, double scale, ScalarType dtype = ScalarType.Float64) =>
        (rand(leading.Append(lieDim).ToArray(), dtype: ScalarType.Float64) * 2 - 1).mul(scale).to(dtype);

    /// <summary>Random coordinates whose rotation part has exactly the angle θ (principal range when θ &lt; π).</summary>
    private static Tensor WithRotationAngle(GroupCatalog.Case c, Tensor a, double theta)
    {
        var axes = tensor(c.RotationAxes.Select(i => (long)i).ToArray());
        var rotation = a.index_select(-1, axes);
        var norm = rotation.square().sum(-1, keepdim: true).sqrt().clamp_min(1e-300);
        return a.index_copy(-1, axes, rotation / norm * theta);
    }

    [TestCaseSource(nameof(Cases))]
    public void Hat_IsTheLinearCombinationOfTheBasis(GroupCatalog.Case c)
    {
        var group = c.Create();
        Assert.That(group.LieDim, Is.EqualTo(c.Basis.Length));
        Assert.That(group.RepDim, Is.EqualTo(c.Basis[0].GetLength(0)));
        var a = RandomAlgebra(new long[] { 6 }, group.LieDim, 2.0);
        var hat = group.Hat(a);
        for (int b = 0; b < 6; b++)
        {
            var expected = Combination(a[b].data<double>().ToArray(), c.Basis);
            Assert.That(MaxAbs(hat[b] - tensor(expected)), Is.LessThan(1e-15));
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Exp_MatchesReferenceMatrixExponential_From1e5To1e2(GroupCatalog.Case c)
    {
        var group = c.Create();
        foreach (var scale in Scales)
            for (int trial = 0; trial < 3; trial++)
            {
                var a = RandomAlgebra(new long[] { 4 }, group.LieDim, scale);
                var exp = group.Exp(a);
                Assert.That(exp.shape, Is.EqualTo(new long[] { 4, group.RepDim, group.RepDim }));
                Assert.That(exp.dtype, Is.EqualTo(ScalarType.Float64));
                for (int b = 0; b < 4; b++)
                {
                    var expected = Expm(Combination(a[b].data<double>().ToArray(), c.Basis));
                    double error = MaxAbs(exp[b] - tensor(expected)) / Math.Max(1, ReferenceMath.MaxAbs(expected));
                    Assert.That(error, Is.LessThan(1e-9), $"{c.Spec} scale {scale:G3}: exp differs from the reference");
                }
                if (scale <= 10)
                {
                    var exp32 = group.Exp(a.to(ScalarType.Float32));
                    Assert.That(exp32.dtype, Is.EqualTo(ScalarType.Float32));
                    Assert.That(RelativeError(exp32, exp), Is.LessThan(1e-5), $"{c.Spec} scale {scale:G3}: float32 exp");
                }
            }
    }

    [TestCaseSource(nameof(Cases))]
    public void Exp_IsBatchedOverAnyLeadingAxes(GroupCatalog.Case c)
    {
        var group = c.Create();
        var a = RandomAlgebra(new long[] { 2, 3, 5 }, group.LieDim, 1.5);
        var batched = group.Exp(a);
        var flat = group.Exp(a.reshape(30, group.LieDim)).reshape(2, 3, 5, group.RepDim, group.RepDim);
        Assert.That(MaxAbs(batched - flat), Is.LessThan(1e-14));
        Assert.That(RelativeError(group.Log(batched), group.Log(batched.reshape(30, group.RepDim, group.RepDim)).reshape(2, 3, 5, group.LieDim)), Is.LessThan(1e-14));
    }

    [TestCaseSource(nameof(Cases))]
    public void LogOfExp_ReturnsThePrincipalCoordinates(GroupCatalog.Case c)
    {
        var group = c.Create();
        foreach (var scale in new[] { 1e-6, 1e-3, 0.05, 0.3, 1.0, 3.0, 30.0 })
        {
            var a = RandomAlgebra(new long[] { 16 }, group.LieDim, scale);
            if (c.RotationAxes.Length > 0) a = WithRotationAngle(c, a, Math.Min(scale, 3.0));
            Assert.That(RelativeError(group.Log(group.Exp(a)), a), Is.LessThan(1e-9), $"{c.Spec} scale {scale}");
            Assert.That(RelativeError(group.Log(group.Exp(a.to(ScalarType.Float32))), a), Is.LessThan(2e-5), $"{c.Spec} scale {scale}, float32");
        }
    }

    [TestCaseSource(nameof(CasesWithRotation))]
    public void LogOfExp_IsAccurateNearZeroAndNearPi(GroupCatalog.Case c)
    {
        var group = c.Create();
        foreach (var theta in new[] { 0.0, 1e-8, 1e-4, SeriesFunctions.TaylorThreshold, Math.PI / 2, Math.PI - 1e-2, Math.PI - 1e-4, Math.PI - 1e-6 })
        {
            var a = WithRotationAngle(c, RandomAlgebra(new long[] { 32 }, group.LieDim, 2.0), theta);
            var log = group.Log(group.Exp(a));
            Assert.That(RelativeError(log, a), Is.LessThan(1e-8), $"{c.Spec} θ = {theta}: log∘exp (float64)");
            Assert.That(RelativeError(group.Exp(log), group.Exp(a)), Is.LessThan(1e-12), $"{c.Spec} θ = {theta}: exp∘log (float64)");

            var g32 = group.Exp(a.to(ScalarType.Float32));
            var log32 = group.Log(g32);
            Assert.That(AllFinite(log32), $"{c.Spec} θ = {theta}: float32 log not finite");
            Assert.That(RelativeError(group.Exp(log32), g32), Is.LessThan(2e-6), $"{c.Spec} θ = {theta}: exp∘log (float32)");
            if (theta < Math.PI - 1e-5) // within 1e-6 of π, float32 rounding may legitimately flip the axis
                Assert.That(RelativeError(log32, a), Is.LessThan(2e-6), $"{c.Spec} θ = {theta}: log∘exp (float32)");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void ExpOfLog_IsIdentityOnGroupElements(GroupCatalog.Case c)
    {
        var group = c.Create();
        var g = group.Exp(RandomAlgebra(new long[] { 64 }, group.LieDim, 6.0)); // angles well beyond π
        Assert.That(RelativeError(group.Exp(group.Log(g)), g), Is.LessThan(1e-11));
        var identity = eye(group.RepDim, dtype: ScalarType.Float64).expand(64, group.RepDim, group.RepDim);
        Assert.That(RelativeError(matmul(g, group.Inverse(g)), identity), Is.LessThan(1e-11));
    }

    [TestCaseSource(nameof(Cases))]
    public void Gradients_AreExactAtTheIdentity(GroupCatalog.Case c)
    {
        var group = c.Create();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var a = zeros(5, group.LieDim, dtype: dtype).requires_grad_(true);
            var weights = randn(5, group.LieDim, dtype: dtype);
            // d log(exp(a)) / da = I at the identity, so the gradient of ⟨w, log exp a⟩ is w itself.
            var loss = (group.Log(group.Exp(a)) * weights).sum() + group.Exp(a).sum() + group.PairElements(a, a).sum();
            loss.backward();
            Assert.That(AllFinite(a.grad!), $"{c.Spec} {dtype}: gradient not finite at 0");
            var expExpected = tensor(c.Basis.Select(b => b.Cast<double>().Sum()).ToArray(), dtype: dtype).expand(5, group.LieDim);
            Assert.That(RelativeError(a.grad!, weights + expExpected), Is.LessThan(1e-5), $"{c.Spec} {dtype}: gradient at 0");
        }
    }

    [Test]
    public void SeriesFunctions_AreContinuousAcrossTheTaylorSwitch_AndMatchClosedForms()
    {
        var functions = new (string Name, Func<Tensor, Tensor> Series, Func<double, double> Closed)[]
        {
            ("sinc", SeriesFunctions.Sinc, x => Math.Sin(x) / x),
            ("sincc", SeriesFunctions.Sincc, x => (x - Math.Sin(x)) / (x * x * x)),
            ("cosc", SeriesFunctions.Cosc, x => (1 - Math.Cos(x)) / (x * x)),
            ("coscc", SeriesFunctions.Coscc, x => (1 - x * Math.Sin(x) / (2 * (1 - Math.Cos(x)))) / (x * x)),
            ("sinc_inv", SeriesFunctions.SincInverse, x => x / Math.Sin(x)),
            ("half_cot", SeriesFunctions.HalfAngleCotangent, x => x / 2 / Math.Tan(x / 2)),
        };
        double t = SeriesFunctions.TaylorThreshold;
        foreach (var (name, series, closed) in functions)
        {
            // Closed forms are compared from 0.3 up only: below that they lose digits to cancellation (which is why
            // the Taylor branch exists); the Taylor side is checked by continuity at the switch.
            var x = tensor(new[] { t * (1 - 1e-9), t * (1 + 1e-9), -t * (1 - 1e-9), -t * (1 + 1e-9), 0.3, 0.9, 2.0, 3.0 });
            var y = series(x).data<double>().ToArray();
            Assert.That(Math.Abs(y[0] - y[1]), Is.LessThan(1e-10), $"{name} jumps at +0.07");
            Assert.That(Math.Abs(y[2] - y[3]), Is.LessThan(1e-10), $"{name} jumps at −0.07");
            for (int i = 4; i < 8; i++)
                Assert.That(y[i], Is.EqualTo(closed(x[i].item<double>())).Within(1e-9).Percent, $"{name}({x[i].item<double>()})");
            var atZero = series(zeros(1, dtype: ScalarType.Float64).requires_grad_(true));
            Assert.That(AllFinite(atZero), $"{name}(0) not finite");
        }
    }

    [TestCase(ScalarType.Float32, 3e-7, 3e-6)]
    [TestCase(ScalarType.Float64, 1e-15, 1e-13)]
    public void Sinc_IsAccurate_AndItsGradientIsExactAtZero(ScalarType dtype, double valueTolerance, double gradientTolerance)
    {
        double[] points = [0.0, -0.0, 1e-30, -1e-8, 1e-4, 0.07, -0.5, 1.0, 2.5, -3.1, 6.0, 40.0];
        var x = tensor(points, dtype: dtype).requires_grad_(true);
        var y = SeriesFunctions.Sinc(x);
        y.sum().backward();
        var (values, gradients) = (y.to(ScalarType.Float64).data<double>().ToArray(), x.grad!.to(ScalarType.Float64).data<double>().ToArray());
        for (int i = 0; i < points.Length; i++)
        {
            double p = x[i].to(ScalarType.Float64).item<double>();   // the point as the tensor holds it
            double expected = p == 0 ? 1 : Math.Sin(p) / p;
            Assert.That(values[i], Is.EqualTo(expected).Within(valueTolerance), $"sinc({p}) {dtype}");
            Assert.That(double.IsFinite(gradients[i]), $"sinc'({p}) {dtype} not finite");
            // The gradient cos x / x − sin x / x² cancels near 0 (as libtorch's own sinc's does): exact at 0, compared
            // from the Taylor switch up.
            if (p == 0) Assert.That(gradients[i], Is.EqualTo(0.0), $"sinc'(0) {dtype}");
            else if (Math.Abs(p) >= SeriesFunctions.TaylorThreshold)
                Assert.That(gradients[i], Is.EqualTo((p * Math.Cos(p) - Math.Sin(p)) / (p * p)).Within(gradientTolerance), $"sinc'({p}) {dtype}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void PairElements_EqualTheMatrixRoute(GroupCatalog.Case c)
    {
        // Groups may compute log(v⁻¹u) in closed form; it must be the element exp(−v)·exp(u) of the generic route.
        var group = c.Create();
        foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
        {
            var u = RandomAlgebra(new long[] { 6, 1 }, group.LieDim, 3.0, dtype);
            var v = RandomAlgebra(new long[] { 1, 7 }, group.LieDim, 3.0, dtype);
            var pairs = group.PairElements(u, v);
            Assert.That(pairs.shape, Is.EqualTo(new long[] { 6, 7, group.LieDim }));
            var expected = matmul(group.Exp(-v), group.Exp(u));
            Assert.That(RelativeError(group.Exp(pairs), expected), Is.LessThan(dtype == ScalarType.Float64 ? 1e-12 : 2e-6), $"{c.Spec} {dtype}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Exp_IsContinuousAcrossTheTaylorSwitch(GroupCatalog.Case c)
    {
        var group = c.Create();
        var direction = RandomAlgebra(new long[] { 8 }, group.LieDim, 1.0);
        direction /= direction.square().sum(-1, keepdim: true).sqrt();
        var below = group.Exp(direction * (SeriesFunctions.TaylorThreshold * (1 - 1e-9)));
        var above = group.Exp(direction * (SeriesFunctions.TaylorThreshold * (1 + 1e-9)));
        Assert.That(MaxAbs(below - above), Is.LessThan(1e-9));
        Assert.That(MaxAbs(group.Log(below) - group.Log(above)), Is.LessThan(1e-9));
    }
}
