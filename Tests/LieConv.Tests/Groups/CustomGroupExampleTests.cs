using LieConv.Groups;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;

namespace LieConv.Tests.Groups;

// ---- The README's worked example, verbatim: a new group in a dozen lines. ----

/// <summary>Dilations x ↦ eˢ·x of R^d. One generator (the identity); each ray from the origin is an orbit.</summary>
public sealed class Dilations : LieGroup
{
    public Dilations(int dimension, double alpha = DefaultAlpha) : base(alpha) => SpaceDim = dimension;

    public override int LieDim => 1;
    public override int RepDim => SpaceDim;                  // exp(s) = eˢ·I acts linearly
    public override int QDim => SpaceDim;                    // q = x/‖x‖, the ray
    public override int SpaceDim { get; }

    public override Tensor Hat(Tensor a) => a.unsqueeze(-1) * eye(SpaceDim, dtype: a.dtype, device: a.device);
    public override Tensor Log(Tensor g) => g[TensorIndex.Ellipsis, 0, 0].log().unsqueeze(-1);
    public override Tensor Section(Tensor x) => TensorMath.SafeNorm(x, keepDim: true).log();   // s(x) = log‖x‖
    public override Tensor Orbit(Tensor x) => x / TensorMath.SafeNorm(x, keepDim: true);
    public override Tensor OrbitOrigin(Tensor q) => q;                                      // e^{log‖x‖}·x/‖x‖ = x
    public override string ToString() => $"Dilations({SpaceDim})";
}

[TestFixture]
public class CustomGroupExampleTests
{
    [OneTimeSetUp]
    public void RegisterOnce()
    {
        try { LieGroup.Register("Dilations", "Dilations(d)", args => new Dilations(args.Int(0, "d"))); }
        catch (ArgumentException) { /* registered by an earlier run in this process */ }
    }

    [Test]
    public void UserDefinedGroup_LiftsExponentiatesAndIsInvariant_WithOnlyTheRequiredOverrides()
    {
        var group = LieGroup.Parse("Dilations(3)");
        Assert.That(group, Is.TypeOf<Dilations>());
        Assert.That(group.ToString(), Is.EqualTo("Dilations(3)"));

        var a = randn(5, 1, dtype: ScalarType.Float64);
        Assert.That(RelativeError(group.Exp(a), a.exp().unsqueeze(-1) * eye(3, dtype: ScalarType.Float64)), Is.LessThan(1e-12));
        Assert.That(RelativeError(group.Log(group.Exp(a)), a), Is.LessThan(1e-12));

        var x = randn(2, 16, 3, dtype: ScalarType.Float64);
        var lifted = group.Lift(x);
        Assert.That(RelativeError(group.Act(group.Exp(lifted.Elements), group.OrbitOrigin(lifted.Orbits)), x), Is.LessThan(1e-12));

        Tensor Pairs(LiftedPoints l) => group.PairFeatures(l.Elements.unsqueeze(-2), l.Orbits.unsqueeze(-2), l.Elements.unsqueeze(-3), l.Orbits.unsqueeze(-3));
        var scaled = group.Act(group.Exp(tensor(new[] { 0.8 }, dtype: ScalarType.Float64)), x);
        Assert.That(RelativeError(Pairs(group.Lift(scaled)), Pairs(lifted)), Is.LessThan(1e-12));
        Assert.That(group.Distance(Pairs(lifted)).min().item<double>(), Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void Register_RejectsBuiltInNamesAndBadNames()
    {
        Assert.Throws<ArgumentException>(() => LieGroup.Register("SE2", "SE2()", _ => new SE2()));
        Assert.Throws<ArgumentException>(() => LieGroup.Register("My Group", "x", _ => new SE2()));
        var ex = Assert.Throws<FormatException>(() => LieGroup.Parse("Dilations()"));
        Assert.That(ex!.Message, Does.Contain("Dilations(d)"));
    }
}
