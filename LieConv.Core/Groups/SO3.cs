using LieConv.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Groups.SeriesFunctions;
using static LieConv.Groups.TensorMath;

namespace LieConv.Groups;

/// <summary>
/// SO(3), rotations of space about the origin. exp(ω) = I + sinc θ·[ω]× + cosc θ·[ω]×², θ = ‖ω‖ (Rodrigues).
/// A point x lifts to R_p·R_x(φ): R_p turns e_x onto x/‖x‖ and R_x(φ), φ ~ U[0, 2π), spins about e_x (the
/// stabilizer of the orbit origin ‖x‖·e_x). The orbit identifier is the radius.
/// Distance: α‖ω‖ + (1 − α)|r_u − r_v|.
/// </summary>
/// <remarks>
/// Bugs of the original fixed here (reference §7.1–2): log is accurate up to θ = π (the axis comes from the
/// symmetric part of R past π/2, where vee(R) = sin θ·axis vanishes); the stabilizer angle is uniform rather
/// than distributed like a Haar rotation's angle; a point on −e_x lifts to a half turn instead of the identity.
/// </remarks>
public sealed class SO3 : LieGroup
{
    /// <summary>SO(3) with distance weighting α.</summary>
    public SO3(double alpha = DefaultAlpha) : base(alpha) { }

    /// <inheritdoc />
    public override int LieDim => 3;
    /// <inheritdoc />
    public override int RepDim => 3;
    /// <inheritdoc />
    public override int QDim => 1;
    /// <inheritdoc />
    public override bool HasRandomLift => true;
    /// <inheritdoc />
    public override int SpaceDim => 3;

    /// <inheritdoc />
    public override Tensor Hat(Tensor a) => Hat3(a);

    /// <inheritdoc />
    public override Tensor Exp(Tensor a) => Rotation(a);

    /// <inheritdoc />
    public override Tensor Log(Tensor g) => RotationLog(g);

    /// <inheritdoc />
    public override Tensor Section(Tensor x)
    {
        var direction = x / SafeNorm(x, keepDim: true).clamp_min(1e-5);
        var (c, w) = (direction.select(-1, 0), cat(new[] { zeros_like(direction.narrow(-1, 0, 1)), -direction.narrow(-1, 2, 1), direction.narrow(-1, 1, 1) }, -1));
        var s = SafeNorm(w);                                          // w = e_x × p̂, ‖w‖ = sin of the turning angle
        var angle = atan2(s, c);
        var turnsAround = (s == 0) & (c < 0);                          // p̂ = −e_x: any axis ⟂ e_x, we take e_z
        var axis = where((s > 0).unsqueeze(-1), w / where(s > 0, s, ones_like(s)).unsqueeze(-1), zeros_like(w));
        var ez = stack(new[] { zeros_like(c), zeros_like(c), ones_like(c) }, -1);
        return where(turnsAround.unsqueeze(-1), ez * Math.PI, axis * angle.unsqueeze(-1));
    }

    /// <inheritdoc />
    public override Tensor Orbit(Tensor x) => SafeNorm(x, keepDim: true);

    /// <inheritdoc />
    public override Tensor OrbitOrigin(Tensor q) => cat(new[] { q, zeros_like(q), zeros_like(q) }, -1);

    /// <inheritdoc />
    public override Tensor SampleStabilizer(Tensor points, int liftSamples, RandomSource? random = null)
    {
        var shape = Leading(points, 1).Append(liftSamples).ToArray();
        var angle = (random ?? RandomSource.FromGenerator()).Uniform(shape, points.dtype, points.device) * (2 * Math.PI);
        var zero = zeros_like(angle);
        return stack(new[] { angle, zero, zero }, -1);
    }

    /// <inheritdoc />
    public override string ToString() => $"SO3({Alpha:R})";

    /// <summary>Rodrigues' formula: (…, 3) → (…, 3, 3).</summary>
    internal static Tensor Rotation(Tensor w)
    {
        var theta = SafeNorm(w).unsqueeze(-1).unsqueeze(-1);
        var k = Hat3(w);
        return EyeLike(w, 3, Leading(w, 1)) + Sinc(theta) * k + Cosc(theta) * matmul(k, k);
    }

    /// <summary>The rotation vector θ·axis of rotation matrices (…, 3, 3), accurate on all of [0, π].</summary>
    internal static Tensor RotationLog(Tensor r)
    {
        var vee = Vee3(r);                                            // sin θ · axis
        var cos = ((r.diagonal(dim1: -2, dim2: -1).sum(-1) - 1) / 2).clamp(-1, 1);
        var sin = SafeNorm(vee);
        var theta = atan2(sin, cos);                                  // well conditioned everywhere, unlike arccos near π
        var farSide = cos < 0;
        // x/sin x is evaluated on a substitute angle on the far side, where it is unused but would be ∞ at π.
        var nearIdentity = vee * SincInverse(where(farSide, zeros_like(theta), theta)).unsqueeze(-1);

        // Past π/2 sin θ is the worse-conditioned factor: read the axis off (R + Rᵀ)/2 − cos θ·I = (1 − cos θ)·n nᵀ,
        // from its largest diagonal entry's column, and take the sign from vee.
        var symmetric = (r + r.transpose(-1, -2)) / 2 - cos.unsqueeze(-1).unsqueeze(-1) * EyeLike(r, 3, Leading(r, 2));
        var pivot = symmetric.diagonal(dim1: -2, dim2: -1).argmax(-1, keepdim: true);
        var column = symmetric.gather(-1, pivot.unsqueeze(-2).expand(symmetric.shape[..^1].Append(1).ToArray())).squeeze(-1);
        var pivotValue = column.gather(-1, pivot).squeeze(-1);
        var denominator = where(farSide, (pivotValue * (1 - cos)).clamp_min(1e-30).sqrt(), ones_like(cos));
        var axis = column / denominator.unsqueeze(-1);
        var sign = where((axis * vee).sum(-1) < 0, -ones_like(cos), ones_like(cos));
        var nearHalfTurn = axis * (sign * theta).unsqueeze(-1);
        return where(farSide.unsqueeze(-1), nearHalfTurn, nearIdentity);
    }

    /// <summary>
    /// Haar-random rotation vectors of shape (…, 3): a normalised Gaussian quaternion, taken with a non-negative
    /// real part so the angle 2·atan2(‖q⃗‖, q₀) stays in [0, π].
    /// </summary>
    internal static Tensor SampleHaar(long[] shape, ScalarType dtype, Device device, RandomSource? random)
    {
        var q = (random ?? RandomSource.FromGenerator()).Normal(shape.Append(4L).ToArray(), dtype, device);
        q = where(q.narrow(-1, 0, 1) < 0, -q, q);
        var vector = q.narrow(-1, 1, 3);
        var vectorNorm = SafeNorm(vector, keepDim: true);
        var angle = 2 * atan2(vectorNorm, q.narrow(-1, 0, 1));
        return vector * (angle / where(vectorNorm > 0, vectorNorm, ones_like(vectorNorm)));
    }
}
