using LieConv.Groups;
using static TorchSharp.torch;

namespace LieConv.Models;

/// <summary>A random transformation applied to every training cloud, one draw per cloud.</summary>
public enum PointCloudAugmentation
{
    /// <summary>Clouds are used as they are.</summary>
    None,

    /// <summary>Rotate each 2-D cloud about the origin by a uniform angle in [0, 2π) (the RotMNIST recipe's rotation, §4.1).</summary>
    SO2,

    /// <summary>Rotate each 3-D cloud about the origin by a Haar-random rotation.</summary>
    SO3,

    /// <summary>Translate each 3-D cloud by 0.5·N(0, I₃), then rotate it about the origin by a Haar-random rotation (SE3aug, §4.2).</summary>
    SE3,
}

/// <summary>Applies a <see cref="PointCloudAugmentation"/> to a batch of coordinates.</summary>
/// <remarks>
/// Draws come from libtorch's default generator, so a seeded run is reproducible and a resumed run (which restores
/// the generator state) draws what the uninterrupted run would have. Padding points move too, which is harmless: the
/// mask keeps them out of every computation.
/// </remarks>
public static class PointCloudAugmentations
{
    /// <summary>The coordinate dimension an augmentation needs, or null when any works.</summary>
    public static int? RequiredDimension(PointCloudAugmentation augmentation) => augmentation switch
    {
        PointCloudAugmentation.None => null,
        PointCloudAugmentation.SO2 => 2,
        PointCloudAugmentation.SO3 or PointCloudAugmentation.SE3 => 3,
        _ => throw new ArgumentOutOfRangeException(nameof(augmentation), augmentation, "Unknown augmentation."),
    };

    /// <summary>Transforms <paramref name="coordinates"/> (B, N, d), one random draw per cloud.</summary>
    /// <exception cref="ArgumentException">d does not suit the augmentation.</exception>
    public static Tensor Apply(PointCloudAugmentation augmentation, Tensor coordinates)
    {
        ArgumentNullException.ThrowIfNull(coordinates);
        if (augmentation == PointCloudAugmentation.None) return coordinates;
        int d = RequiredDimension(augmentation)!.Value;
        if (coordinates.dim() != 3 || coordinates.shape[2] != d)
            throw new ArgumentException($"{augmentation} augmentation needs coordinates (batch, points, {d}); got ({string.Join(", ", coordinates.shape)}).", nameof(coordinates));

        long batch = coordinates.shape[0];
        using var noGrad = no_grad();
        if (augmentation == PointCloudAugmentation.SO2)
        {
            var angle = 2 * Math.PI * rand(new[] { batch, 1L }, dtype: coordinates.dtype, device: coordinates.device);
            var (cos, sin) = (angle.cos(), angle.sin());
            var x = coordinates.select(-1, 0);
            var y = coordinates.select(-1, 1);
            return stack(new[] { cos * x - sin * y, sin * x + cos * y }, -1);
        }
        var shifted = augmentation == PointCloudAugmentation.SE3
            ? coordinates + 0.5 * randn(new[] { batch, 1L, 3L }, dtype: coordinates.dtype, device: coordinates.device)
            : coordinates;
        var rotation = new SO3().Exp(SO3.SampleHaar(new[] { batch }, coordinates.dtype, coordinates.device, null)).unsqueeze(1);   // (B, 1, 3, 3)
        return matmul(rotation, shifted.unsqueeze(-1)).squeeze(-1);
    }
}
