using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Groups;

/// <summary>Small tensor helpers shared by the groups: safe norms, angle wrapping, R³ hat/vee maps.</summary>
public static class TensorMath
{
    /// <summary>Euclidean norm over the last axis whose gradient is 0 (not NaN) at the zero vector.</summary>
    public static Tensor SafeNorm(Tensor x, bool keepDim = false)
    {
        var squared = x.square().sum(-1, keepdim: keepDim);
        var positive = squared > 0;
        return where(positive, where(positive, squared, ones_like(squared)).sqrt(), zeros_like(squared));
    }

    /// <summary>
    /// Euclidean norm over the last axis in one pass (libtorch's vector norm, whose gradient at 0 is 0): for
    /// distances, which are computed for many pairs.
    /// </summary>
    public static Tensor Norm(Tensor x) => linalg.vector_norm(x, 2, new long[] { -1 });

    /// <summary>Wraps angles to (−π, π], taking angles within rounding error of −π as +π.</summary>
    /// <remarks>
    /// Pairs exactly half a turn apart — the two lift samples of an SE(2) point, antipodal points of a symmetric
    /// grid — would otherwise land on either side of the cut depending on rounding, so that a kernel sees ±π for
    /// the same geometry and exact invariance is lost.
    /// </remarks>
    public static Tensor WrapAngle(Tensor theta)
    {
        var wrapped = -((Math.PI - theta).remainder(2 * Math.PI) - Math.PI);
        double tolerance = theta.dtype == ScalarType.Float64 ? 1e-12 : 4e-6;
        return where(wrapped < tolerance - Math.PI, wrapped + 2 * Math.PI, wrapped);
    }

    /// <summary>The cross-product matrix [k]× of k ∈ R³: (…, 3) → (…, 3, 3).</summary>
    public static Tensor Hat3(Tensor k)
    {
        var (k1, k2, k3) = (k.select(-1, 0), k.select(-1, 1), k.select(-1, 2));
        var zero = zeros_like(k1);
        return Matrix(3, 3, zero, -k3, k2, k3, zero, -k1, -k2, k1, zero);
    }

    /// <summary>The inverse of <see cref="Hat3"/> on the antisymmetric part of a 3×3 matrix: (…, 3, 3) → (…, 3).</summary>
    public static Tensor Vee3(Tensor m) => stack(new[]
    {
        (m[TensorIndex.Ellipsis, 2, 1] - m[TensorIndex.Ellipsis, 1, 2]) / 2,
        (m[TensorIndex.Ellipsis, 0, 2] - m[TensorIndex.Ellipsis, 2, 0]) / 2,
        (m[TensorIndex.Ellipsis, 1, 0] - m[TensorIndex.Ellipsis, 0, 1]) / 2,
    }, -1);

    /// <summary>The identity matrix broadcast to the leading shape of <paramref name="like"/> (…, n, n).</summary>
    public static Tensor EyeLike(Tensor like, int n, long[] leadingShape) =>
        eye(n, dtype: like.dtype, device: like.device).expand(leadingShape.Concat(new long[] { n, n }).ToArray());

    /// <summary>Builds (…, r, c) matrices from r·c tensors of equal shape (…), given row-major.</summary>
    public static Tensor Matrix(int rows, int cols, params Tensor[] entries) =>
        stack(entries, -1).reshape(entries[0].shape.Concat(new long[] { rows, cols }).ToArray());

    /// <summary>The leading shape of a tensor whose last <paramref name="trailing"/> axes are structural.</summary>
    public static long[] Leading(Tensor t, int trailing) => t.shape[..^trailing];
}
