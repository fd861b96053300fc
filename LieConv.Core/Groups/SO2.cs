using static TorchSharp.torch;
using static LieConv.Groups.TensorMath;

namespace LieConv.Groups;

/// <summary>
/// SO(2), rotations of the plane about the origin. exp(θ) = [[cos θ, −sin θ], [sin θ, cos θ]],
/// log(R) = atan2(R₁₀ − R₀₁, R₀₀ + R₁₁). A point lifts to its polar angle; its orbit identifier is its radius r.
/// Distance: α|Δθ| + (1 − α)|r_u − r_v| / (r_u + r_v + 0.001).
/// </summary>
/// <remarks>As in the original the pair angle is wrapped to (−π, π], so a kernel sees a jump at ±π (reference §7.15).</remarks>
public sealed class SO2 : LieGroup
{
    /// <summary>SO(2) with distance weighting α.</summary>
    public SO2(double alpha = DefaultAlpha) : base(alpha) { }

    /// <inheritdoc />
    public override int LieDim => 1;
    /// <inheritdoc />
    public override int RepDim => 2;
    /// <inheritdoc />
    public override int QDim => 1;
    /// <inheritdoc />
    public override int SpaceDim => 2;

    /// <inheritdoc />
    public override Tensor Hat(Tensor a)
    {
        var t = a.select(-1, 0);
        var zero = zeros_like(t);
        return Matrix(2, 2, zero, -t, t, zero);
    }

    /// <inheritdoc />
    public override Tensor Exp(Tensor a)
    {
        var t = a.select(-1, 0);
        var (c, s) = (t.cos(), t.sin());
        return Matrix(2, 2, c, -s, s, c);
    }

    /// <inheritdoc />
    public override Tensor Log(Tensor g) => WrapAngle(atan2(
        g[TensorIndex.Ellipsis, 1, 0] - g[TensorIndex.Ellipsis, 0, 1],
        g[TensorIndex.Ellipsis, 0, 0] + g[TensorIndex.Ellipsis, 1, 1])).unsqueeze(-1);

    /// <inheritdoc />
    public override Tensor Compose(Tensor a, Tensor b) => WrapAngle(a + b);
    /// <inheritdoc />
    public override Tensor Section(Tensor x) => PolarAngle(x).unsqueeze(-1);
    /// <inheritdoc />
    public override Tensor Orbit(Tensor x) => SafeNorm(x, keepDim: true);

    /// <inheritdoc />
    public override Tensor OrbitOrigin(Tensor q) => cat(new[] { q, zeros_like(q) }, -1);

    /// <inheritdoc />
    public override Tensor Distance(Tensor pair, Tensor queryOrbit, Tensor neighbourOrbit) =>
        (Alpha * pair.abs() + (1 - Alpha) * (queryOrbit - neighbourOrbit).abs() / (queryOrbit + neighbourOrbit + 0.001)).squeeze(-1);

    /// <inheritdoc />
    public override string ToString() => $"SO2({Alpha:R})";

    /// <summary>atan2(x₂, x₁), with the origin mapped to angle 0 and a finite gradient there.</summary>
    internal static Tensor PolarAngle(Tensor x)
    {
        var (x1, x2) = (x.select(-1, 0), x.select(-1, 1));
        var atOrigin = (x1 == 0) & (x2 == 0);
        return atan2(x2, where(atOrigin, ones_like(x1), x1));
    }
}
