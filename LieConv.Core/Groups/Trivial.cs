using static TorchSharp.torch;
using static LieConv.Groups.TensorMath;

namespace LieConv.Groups;

/// <summary>
/// The trivial group on R^d: no symmetry. Every point is its own orbit, so q = x and a kernel sees the absolute
/// positions [x_u, x_v] of both points; the distance is (1 − α)‖x_u − x_v‖.
/// </summary>
public sealed class Trivial : LieGroup
{
    /// <summary>The trivial group acting on R^<paramref name="dimension"/>.</summary>
    public Trivial(int dimension = 2) : base(DefaultAlpha)
    {
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The dimension must be at least 1.");
        SpaceDim = dimension;
    }

    /// <inheritdoc />
    public override int LieDim => 0;
    /// <inheritdoc />
    public override int RepDim => SpaceDim;
    /// <inheritdoc />
    public override int QDim => SpaceDim;
    /// <inheritdoc />
    public override int SpaceDim { get; }

    /// <inheritdoc />
    public override Tensor Hat(Tensor a) => a.new_zeros(Leading(a, 1).Concat(new long[] { RepDim, RepDim }).ToArray());
    /// <inheritdoc />
    public override Tensor Exp(Tensor a) => EyeLike(a, RepDim, Leading(a, 1));
    /// <inheritdoc />
    public override Tensor Log(Tensor g) => g.new_empty(Leading(g, 2).Append(0).ToArray());
    /// <inheritdoc />
    public override Tensor Compose(Tensor a, Tensor b) => a + b;
    /// <inheritdoc />
    public override Tensor Section(Tensor x) => x.new_empty(Leading(x, 1).Append(0).ToArray());
    /// <inheritdoc />
    public override Tensor Orbit(Tensor x) => x;
    /// <inheritdoc />
    public override Tensor OrbitOrigin(Tensor q) => q;
    /// <inheritdoc/>
    public override (Tensor Coordinates, double Scale)? EuclideanCoordinates(Tensor elements, Tensor orbits) => (orbits, 1 - Alpha);
    /// <inheritdoc />
    public override string ToString() => $"Trivial({SpaceDim})";
}
