namespace LieConv.Models;

/// <summary>
/// The pixels of an image that become a point cloud (reference §3.5): pixel (r, c) of an H×W image sits at
/// (linspace(−H/2, H/2, H)[r], linspace(−W/2, W/2, W)[c]) — first coordinate the row — and is kept when its distance
/// from the centre is below the crop radius, in row-major order. A 28×28 image with radius 15 keeps 648 pixels.
/// </summary>
public sealed class ImageGrid
{
    private readonly double[] _coordinates;
    private readonly int[] _pixels;

    private ImageGrid(int height, int width, double cropRadius, double[] coordinates, int[] pixels)
    {
        Height = height;
        Width = width;
        CropRadius = cropRadius;
        _coordinates = coordinates;
        _pixels = pixels;
    }

    /// <summary>Image rows.</summary>
    public int Height { get; }

    /// <summary>Image columns.</summary>
    public int Width { get; }

    /// <summary>Pixels at this distance from the centre or farther are dropped.</summary>
    public double CropRadius { get; }

    /// <summary>The number of kept pixels N.</summary>
    public int PointCount => _pixels.Length;

    /// <summary>The kept pixels' coordinates, row-major (N, 2), in double precision (cast them to the network's type).</summary>
    public ReadOnlySpan<double> Coordinates => _coordinates;

    /// <summary>The kept pixels' row-major indices r·W + c, ascending.</summary>
    public ReadOnlySpan<int> PixelIndices => _pixels;

    /// <summary>The grid of an <paramref name="height"/>×<paramref name="width"/> image cropped to <paramref name="cropRadius"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, or the radius is not positive.</exception>
    /// <exception cref="ArgumentException">No pixel lies within the radius.</exception>
    public static ImageGrid Create(int height, int width, double cropRadius)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (!(cropRadius > 0)) throw new ArgumentOutOfRangeException(nameof(cropRadius), cropRadius, "The crop radius must be positive.");
        double[] rows = Linspace(-height / 2.0, height / 2.0, height), cols = Linspace(-width / 2.0, width / 2.0, width);
        var coordinates = new List<double>();
        var pixels = new List<int>();
        for (int r = 0; r < height; r++)
        {
            for (int c = 0; c < width; c++)
            {
                if (Math.Sqrt(rows[r] * rows[r] + cols[c] * cols[c]) >= cropRadius) continue;
                coordinates.Add(rows[r]);
                coordinates.Add(cols[c]);
                pixels.Add(r * width + c);
            }
        }
        if (pixels.Count == 0)
            throw new ArgumentException($"No pixel of a {height}×{width} image lies within the crop radius {cropRadius}.", nameof(cropRadius));
        return new ImageGrid(height, width, cropRadius, coordinates.ToArray(), pixels.ToArray());
    }

    /// <summary>
    /// The per-point features of one image: for every kept pixel its <paramref name="channels"/> values, each mapped
    /// to (x − <paramref name="mean"/>) / <paramref name="std"/> (RotMNIST: 0.130 and 0.297, §4.1).
    /// </summary>
    /// <param name="image">The image, channel-major (C, H, W) as PyTorch stores it.</param>
    /// <param name="channels">C.</param>
    /// <param name="mean">Subtracted from every value.</param>
    /// <param name="std">Divides every value.</param>
    /// <param name="features">Receives (N, C), row-major.</param>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    public void Featurize(ReadOnlySpan<float> image, int channels, float mean, float std, Span<float> features)
    {
        int plane = Height * Width;
        if (image.Length != channels * plane)
            throw new ArgumentException($"The image has {image.Length} values; expected C·H·W = {channels}·{Height}·{Width} = {channels * plane}.", nameof(image));
        if (features.Length != PointCount * channels)
            throw new ArgumentException($"The features span has {features.Length} values; expected N·C = {PointCount * channels}.", nameof(features));
        for (int i = 0; i < _pixels.Length; i++)
            for (int c = 0; c < channels; c++)
                features[i * channels + c] = (image[c * plane + _pixels[i]] - mean) / std;
    }

    // torch.linspace's formula (the second half counted back from the end), so the grid matches the original's bits.
    private static double[] Linspace(double start, double end, int steps)
    {
        var values = new double[steps];
        if (steps == 1) { values[0] = start; return values; }
        double step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++)
            values[i] = i < half ? start + step * i : end - step * (steps - i - 1);
        return values;
    }
}
