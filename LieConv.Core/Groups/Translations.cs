using static TorchSharp.torch;
using static LieConv.Groups.TensorMath;

namespace LieConv.Groups;

/// <summary>
/// T(d), the translations of R^d: exp(a) = [[I, a], [0, 1]] (homogeneous, so RepDim = d + 1), log(v⁻¹u) = u − v.
/// A point lifts to the translation that carries the origin to it, so a kernel sees x_u − x_v.
/// </summary>
/// <remarks>The original fixes α at 0.2 for T(d) (its constructor takes no α); so does the spec <c>T(d)</c>.</remarks>
public sealed class Translations : LieGroup
{
    /// <summary>The translations of R^<paramref name="dimension"/>.</summary>
    public Translations(int dimension, double alpha = DefaultAlpha) : base(alpha)
    {
        if (dimension < 1) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The dimension must be at least 1.");
        SpaceDim = dimension;
    }

    /// <inheritdoc />
    public override int LieDim => SpaceDim;
    /// <inheritdoc />
    public override int RepDim => SpaceDim + 1;
    /// <inheritdoc />
    public override int SpaceDim { get; }

    /// <inheritdoc />
    public override Tensor Hat(Tensor a)
    {
        var column = cat(new[] { a, zeros_like(a.narrow(-1, 0, 1)) }, -1).unsqueeze(-1);
        return nn.functional.pad(column, new long[] { SpaceDim, 0 });
    }

    /// <inheritdoc />
    public override Tensor Exp(Tensor a) => EyeLike(a, RepDim, Leading(a, 1)) + Hat(a);
    /// <inheritdoc />
    public override Tensor Log(Tensor g) => g.narrow(-2, 0, SpaceDim).select(-1, SpaceDim);
    /// <inheritdoc />
    public override Tensor Compose(Tensor a, Tensor b) => a + b;
    /// <inheritdoc />
    public override Tensor PairElements(Tensor u, Tensor v) => u - v;

    /// <inheritdoc/>
    public override (Tensor Coordinates, double Scale)? EuclideanCoordinates(Tensor elements, Tensor orbits) => (elements, Alpha);
    /// <inheritdoc />
    public override Tensor Section(Tensor x) => x;
    /// <inheritdoc />
    public override Tensor OrbitOrigin(Tensor q) => q.new_zeros(Leading(q, 1).Append(SpaceDim).ToArray());
    /// <inheritdoc />
    public override string ToString() => Alpha == DefaultAlpha ? $"T({SpaceDim})" : $"T({SpaceDim}, alpha={Alpha:R})";
}
