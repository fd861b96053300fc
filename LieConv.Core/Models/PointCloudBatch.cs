using static TorchSharp.torch;

namespace LieConv.Models;

/// <summary>A padded batch of point clouds, the input of the LieResNet family.</summary>
/// <param name="Coordinates">(B, N, d) point coordinates (padding rows are ignored).</param>
/// <param name="Values">(B, N, c) per-point features.</param>
/// <param name="Mask">(B, N) bool: true for real points, false for padding.</param>
public sealed record PointCloudBatch(Tensor Coordinates, Tensor Values, Tensor Mask)
{
    /// <summary>Checks shapes against a network's expectations, with a message that says what was expected.</summary>
    public void Validate(int spaceDim, long channels)
    {
        if (Coordinates.dim() != 3 || Coordinates.shape[2] != spaceDim)
            throw new ArgumentException($"Coordinates must be (batch, points, {spaceDim}); got ({string.Join(", ", Coordinates.shape)}).", nameof(Coordinates));
        long b = Coordinates.shape[0], n = Coordinates.shape[1];
        if (Values.dim() != 3 || Values.shape[0] != b || Values.shape[1] != n || Values.shape[2] != channels)
            throw new ArgumentException($"Values must be ({b}, {n}, {channels}); got ({string.Join(", ", Values.shape)}).", nameof(Values));
        if (Mask.dim() != 2 || Mask.shape[0] != b || Mask.shape[1] != n || Mask.dtype != ScalarType.Bool)
            throw new ArgumentException($"Mask must be a ({b}, {n}) bool tensor; got {Mask.dtype} ({string.Join(", ", Mask.shape)}).", nameof(Mask));
        if (Values.dtype != Coordinates.dtype)
            throw new ArgumentException($"Values are {Values.dtype} but coordinates are {Coordinates.dtype}.", nameof(Values));
    }
}
