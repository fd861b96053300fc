namespace LieConv.Datasets.RotMnist;

/// <summary>
/// Rotates images the way the LieConv RotMNIST augmentation does: PyTorch's <c>affine_grid</c> followed by
/// <c>grid_sample(mode='bilinear', padding_mode='zeros', align_corners=False)</c> with
/// θ = [[cos α, sin α, 0], [−sin α, cos α, 0]].
/// </summary>
/// <remarks>
/// <para>Output pixel (row i, column j) of an h × w image sits at normalised coordinates
/// x = (2j + 1)/w − 1, y = (2i + 1)/h − 1. It samples the input at θ·(x, y, 1), mapped back to pixel coordinates by
/// ((x' + 1)·w − 1)/2 and ((y' + 1)·h − 1)/2, with bilinear weights over the four surrounding pixels; those outside
/// the image count as zero. The rotation is about the image centre, in normalised coordinates (so a non-square image
/// is rotated in its own stretched frame, as PyTorch does).</para>
/// <para>The arithmetic is double precision (PyTorch's is float32), so results agree with PyTorch to float32 rounding.
/// Sampling coordinates within 10⁻⁹ pixel of a pixel centre are moved onto it, which makes multiples of 90° exact
/// permutations of the input (without it, cos(π/2) ≈ 6·10⁻¹⁷ leaves tiny weights on neighbouring pixels).</para>
/// <para>Images are channels-first (c × h × w, row-major within a channel), like a PyTorch image tensor.</para>
/// </remarks>
public static class ImageRotation
{
    /// <summary>How close, in pixels, a sampling coordinate must be to a pixel centre to be moved onto it.</summary>
    private const double SnapTolerance = 1e-9;

    /// <summary>Rotates a single-channel image by <paramref name="angle"/> radians into a new array.</summary>
    /// <param name="image">h × w intensities, row-major.</param>
    /// <param name="height">h.</param>
    /// <param name="width">w.</param>
    /// <param name="angle">The angle α in θ above, in radians.</param>
    /// <exception cref="ArgumentException">The image does not hold h × w values.</exception>
    public static float[] Rotate(ReadOnlySpan<float> image, int height, int width, double angle)
    {
        var result = new float[image.Length];
        Rotate(image, result, 1, height, width, angle);
        return result;
    }

    /// <summary>Rotates a c × h × w image by <paramref name="angle"/> radians into <paramref name="destination"/>.</summary>
    /// <param name="source">c × h × w values, channels-first.</param>
    /// <param name="destination">Receives the rotated image; the same size as <paramref name="source"/> and not overlapping it.</param>
    /// <param name="channels">c.</param>
    /// <param name="height">h.</param>
    /// <param name="width">w.</param>
    /// <param name="angle">The angle α in θ above, in radians.</param>
    /// <exception cref="ArgumentException">A span has the wrong length, or the spans overlap.</exception>
    public static void Rotate(ReadOnlySpan<float> source, Span<float> destination, int channels, int height, int width, double angle)
    {
        double cos = Math.Cos(angle), sin = Math.Sin(angle);
        ReadOnlySpan<double> theta = [cos, sin, 0, -sin, cos, 0];
        Transform(source, destination, channels, height, width, theta);
    }

    /// <summary>
    /// Resamples a c × h × w image through any 2 × 3 affine matrix θ (row-major), as <c>affine_grid</c> +
    /// <c>grid_sample</c> do with bilinear interpolation, zero padding and <c>align_corners=False</c>.
    /// </summary>
    /// <param name="source">c × h × w values, channels-first.</param>
    /// <param name="destination">Receives the result; the same size as <paramref name="source"/> and not overlapping it.</param>
    /// <param name="channels">c.</param>
    /// <param name="height">h.</param>
    /// <param name="width">w.</param>
    /// <param name="theta">[θ00, θ01, θ02, θ10, θ11, θ12]: maps output normalised (x, y, 1) to input normalised coordinates.</param>
    /// <exception cref="ArgumentException">A span has the wrong length, or the source and destination overlap.</exception>
    public static void Transform(ReadOnlySpan<float> source, Span<float> destination, int channels, int height, int width, ReadOnlySpan<double> theta)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        long size = (long)channels * height * width;
        if (source.Length != size)
        {
            throw new ArgumentException($"The source holds {source.Length} values; expected {channels}×{height}×{width} = {size}.", nameof(source));
        }

        if (destination.Length != size)
        {
            throw new ArgumentException($"The destination holds {destination.Length} values; expected {channels}×{height}×{width} = {size}.", nameof(destination));
        }

        if (theta.Length != 6)
        {
            throw new ArgumentException($"θ holds {theta.Length} values; expected the 6 entries of a 2×3 matrix, row-major.", nameof(theta));
        }

        if (source.Overlaps(destination))
        {
            throw new ArgumentException("The destination overlaps the source; resampling needs every source pixel unchanged until the end.", nameof(destination));
        }

        int plane = height * width;
        for (int i = 0; i < height; i++)
        {
            double y = (2.0 * i + 1) / height - 1;
            for (int j = 0; j < width; j++)
            {
                double x = (2.0 * j + 1) / width - 1;
                double sourceX = theta[0] * x + theta[1] * y + theta[2];
                double sourceY = theta[3] * x + theta[4] * y + theta[5];
                double ix = SnapToPixel(((sourceX + 1) * width - 1) / 2);
                double iy = SnapToPixel(((sourceY + 1) * height - 1) / 2);
                int outIndex = i * width + j;

                // Also keeps the int conversions below in range whatever θ is (NaN fails the test too).
                if (!(ix > -1 && ix < width && iy > -1 && iy < height))
                {
                    for (int c = 0; c < channels; c++)
                    {
                        destination[c * plane + outIndex] = 0;
                    }

                    continue;
                }

                int x0 = (int)Math.Floor(ix), y0 = (int)Math.Floor(iy);
                int x1 = x0 + 1, y1 = y0 + 1;
                // grid_sample's weights: each corner is weighted by the area of the opposite sub-rectangle.
                double wx1 = ix - x0, wx0 = x1 - ix, wy1 = iy - y0, wy0 = y1 - iy;
                bool x0In = x0 >= 0, x1In = x1 < width, y0In = y0 >= 0, y1In = y1 < height;
                for (int c = 0; c < channels; c++)
                {
                    var channel = source.Slice(c * plane, plane);
                    // Summed in grid_sample's order: north-west, north-east, south-west, south-east.
                    double sum = 0;
                    if (y0In && x0In)
                    {
                        sum += wy0 * wx0 * channel[y0 * width + x0];
                    }

                    if (y0In && x1In)
                    {
                        sum += wy0 * wx1 * channel[y0 * width + x1];
                    }

                    if (y1In && x0In)
                    {
                        sum += wy1 * wx0 * channel[y1 * width + x0];
                    }

                    if (y1In && x1In)
                    {
                        sum += wy1 * wx1 * channel[y1 * width + x1];
                    }

                    destination[c * plane + outIndex] = (float)sum;
                }
            }
        }
    }

    /// <summary>
    /// Moves a sampling coordinate that lies within <see cref="SnapTolerance"/> of a pixel centre onto it.
    /// </summary>
    /// <remarks>
    /// cos(π/2) is 6·10⁻¹⁷ in double, and the normalise/unnormalise round trip is itself inexact by an ulp or so, so a
    /// quarter turn would sample each pixel at i ± 10⁻¹⁵: a weight of 10⁻¹⁵ on a neighbour, which shows up as values
    /// like 3·10⁻¹⁷ where the source is black. Snapping the coordinate (rather than cos and sin, which would leave the
    /// round-trip error) makes every lattice-preserving transform (0°, 90°, 180°, 270°, flips) an exact permutation.
    /// It moves a sample by at most 10⁻⁹ pixel, far below PyTorch's own float32 error.
    /// </remarks>
    private static double SnapToPixel(double coordinate)
    {
        double nearest = Math.Round(coordinate);
        return Math.Abs(coordinate - nearest) <= SnapTolerance ? nearest : coordinate;
    }
}
