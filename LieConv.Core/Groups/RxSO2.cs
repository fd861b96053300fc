using static TorchSharp.torch;
using static LieConv.Groups.TensorMath;

namespace LieConv.Groups;

/// <summary>
/// R×SO(2), rotations and scalings of the plane (log-polar coordinates). Algebra order (log scale, angle):
/// exp(a) = e^{a₀}·Rot(a₁). A point lifts to (log r, θ); the action is transitive off the origin.
/// Distance: α|Δθ| + (1 − α)|Δ log r|.
/// </summary>
/// <remarks>
/// The original takes log 0 = −∞ for a point at the origin (reference §7.4); here the radius is clamped at
/// <see cref="MinimumRadius"/> so such a point lifts to a finite, very small scale.
/// </remarks>
public sealed class RxSO2 : LieGroup
{
    /// <summary>Radii below this are treated as this radius when lifting.</summary>
    public const double MinimumRadius = 1e-8;

    /// <summary>R×SO(2) with distance weighting α.</summary>
    public RxSO2(double alpha = DefaultAlpha) : base(alpha) { }

    /// <inheritdoc />
    public override int LieDim => 2;
    /// <inheritdoc />
    public override int RepDim => 2;
    /// <inheritdoc />
    public override int SpaceDim => 2;

    /// <inheritdoc />
    public override Tensor Hat(Tensor a)
    {
        var (s, t) = (a.select(-1, 0), a.select(-1, 1));
        return Matrix(2, 2, s, -t, t, s);
    }

    /// <inheritdoc />
    public override Tensor Exp(Tensor a)
    {
        var (scale, t) = (a.select(-1, 0).exp(), a.select(-1, 1));
        return Matrix(2, 2, scale * t.cos(), -scale * t.sin(), scale * t.sin(), scale * t.cos());
    }

    /// <inheritdoc />
    public override Tensor Log(Tensor g)
    {
        var s = (g[TensorIndex.Ellipsis, 1, 0] - g[TensorIndex.Ellipsis, 0, 1]) / 2;
        var c = (g[TensorIndex.Ellipsis, 0, 0] + g[TensorIndex.Ellipsis, 1, 1]) / 2;
        return stack(new[] { (s.square() + c.square()).sqrt().log(), WrapAngle(atan2(s, c)) }, -1);
    }

    /// <inheritdoc />
    public override Tensor Compose(Tensor a, Tensor b)
    {
        var sum = a + b;
        return stack(new[] { sum.select(-1, 0), WrapAngle(sum.select(-1, 1)) }, -1);
    }

    /// <inheritdoc />
    public override Tensor Section(Tensor x) =>
        stack(new[] { SafeNorm(x).clamp_min(MinimumRadius).log(), SO2.PolarAngle(x) }, -1);

    /// <inheritdoc />
    public override Tensor OrbitOrigin(Tensor q)
    {
        var one = ones(Leading(q, 1).Append(1L).ToArray(), dtype: q.dtype, device: q.device);
        return cat(new[] { one, zeros_like(one) }, -1);
    }

    /// <inheritdoc />
    public override Tensor Distance(Tensor pair, Tensor queryOrbit, Tensor neighbourOrbit) =>
        Alpha * pair.select(-1, 1).abs() + (1 - Alpha) * pair.select(-1, 0).abs();

    /// <inheritdoc />
    public override string ToString() => $"RxSO2({Alpha:R})";
}
