using LieConv.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Groups.SeriesFunctions;
using static LieConv.Groups.TensorMath;

namespace LieConv.Groups;

/// <summary>
/// SE(3), rigid motions of space. Algebra order (ω₁, ω₂, ω₃, u₁, u₂, u₃); with θ = ‖ω‖ and K = [ω]×:
/// exp = [[R(ω), V u], [0, 1]] with V = I + cosc θ·K + sincc θ·K², and log inverts it with
/// V⁻¹ = I − K/2 + coscc θ·K². A point x lifts to [R | x] with R Haar-random, drawn per point and lift sample
/// (or per cloud and lift sample when <see cref="PerPointLift"/> is off). Distance: α‖ω‖ + (1 − α)‖u‖.
/// </summary>
/// <remarks>The rotation part uses the π-stable SO(3) log (reference §7.1).</remarks>
public sealed class SE3 : LieGroup
{
    /// <summary>SE(3) with distance weighting α; <paramref name="perPointLift"/> draws a rotation per point.</summary>
    public SE3(double alpha = DefaultAlpha, bool perPointLift = true) : base(alpha) => PerPointLift = perPointLift;

    /// <summary>Whether every point draws its own stabilizer rotations (the original's default) or a cloud shares them.</summary>
    public bool PerPointLift { get; }

    /// <inheritdoc />
    public override int LieDim => 6;
    /// <inheritdoc />
    public override int RepDim => 4;
    /// <inheritdoc />
    public override bool HasRandomLift => true;
    /// <inheritdoc />
    public override int SpaceDim => 3;

    /// <inheritdoc />
    public override Tensor Hat(Tensor a)
    {
        var top = cat(new[] { Hat3(a.narrow(-1, 0, 3)), a.narrow(-1, 3, 3).unsqueeze(-1) }, -1);
        return nn.functional.pad(top, new long[] { 0, 0, 0, 1 });
    }

    /// <inheritdoc />
    public override Tensor Exp(Tensor a)
    {
        var (w, u) = (a.narrow(-1, 0, 3), a.narrow(-1, 3, 3));
        var theta = SafeNorm(w).unsqueeze(-1).unsqueeze(-1);
        var k = Hat3(w);
        var v = EyeLike(a, 3, Leading(a, 1)) + Cosc(theta) * k + Sincc(theta) * matmul(k, k);
        return Homogeneous(SO3.Rotation(w), matmul(v, u.unsqueeze(-1)));
    }

    /// <inheritdoc />
    public override Tensor Log(Tensor g)
    {
        var w = SO3.RotationLog(g.narrow(-2, 0, 3).narrow(-1, 0, 3));
        var theta = SafeNorm(w).unsqueeze(-1).unsqueeze(-1);
        var k = Hat3(w);
        var vInverse = EyeLike(g, 3, Leading(g, 2)) - k / 2 + Coscc(theta) * matmul(k, k);
        var u = matmul(vInverse, g.narrow(-2, 0, 3).narrow(-1, 3, 1)).squeeze(-1);
        return cat(new[] { w, u }, -1);
    }

    /// <summary>
    /// The points' positions (the translation parts V·u of their elements) with multiple 1 − α: the singular values
    /// of V are 1 and 2|sin(θ/2)|/θ ≤ 1, so the u of log(v⁻¹u) is at least as long as the positions' difference.
    /// </summary>
    public override (Tensor Coordinates, double Scale)? DistanceLowerBound(Tensor elements, Tensor orbits) =>
        (Exp(elements).narrow(-2, 0, 3).select(-1, 3), 1 - Alpha);

    /// <inheritdoc />
    public override Tensor Section(Tensor x) => cat(new[] { zeros_like(x), x }, -1);

    /// <inheritdoc />
    public override Tensor OrbitOrigin(Tensor q) => q.new_zeros(Leading(q, 1).Append(3).ToArray());

    /// <inheritdoc />
    public override Tensor SampleStabilizer(Tensor points, int liftSamples, RandomSource? random = null)
    {
        var perPoint = Leading(points, 1);
        var drawn = PerPointLift ? perPoint : perPoint[..^1].Append(1).ToArray();
        var rotations = SO3.SampleHaar(drawn.Append(liftSamples).ToArray(), points.dtype, points.device, random);
        rotations = rotations.expand(perPoint.Concat(new long[] { liftSamples, 3 }).ToArray());
        return cat(new[] { rotations, zeros_like(rotations) }, -1);
    }

    /// <inheritdoc />
    public override Tensor Distance(Tensor pair, Tensor queryOrbit, Tensor neighbourOrbit) =>
        Alpha * Norm(pair.narrow(-1, 0, 3)) + (1 - Alpha) * Norm(pair.narrow(-1, 3, 3));

    /// <inheritdoc />
    public override string ToString() => PerPointLift ? $"SE3({Alpha:R})" : $"SE3({Alpha:R}, per_point=False)";

    private static Tensor Homogeneous(Tensor rotation, Tensor translation)
    {
        var top = cat(new[] { rotation, translation }, -1);                          // (…, 3, 4)
        var zero = zeros_like(translation.narrow(-2, 0, 1));                        // (…, 1, 1); built on the device, no host copy
        var bottom = cat(new[] { zero, zero, zero, ones_like(zero) }, -1);
        return cat(new[] { top, bottom }, -2);
    }
}
