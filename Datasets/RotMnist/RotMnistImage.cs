using Microsoft.ML.Data;

namespace LieConv.Datasets.RotMnist;

/// <summary>
/// One RotMNIST example as an ML.NET row: 28 × 28 raw intensities and the digit.
/// </summary>
/// <remarks>
/// <para><see cref="Pixels"/> are raw intensities in [0, 1], not normalised; apply
/// <see cref="RotMnistNormalization"/> where the original model's input statistics are wanted.</para>
/// <para><see cref="Label"/> is an <see cref="int"/>, which <c>mlContext.Data.LoadFromEnumerable</c> turns into an
/// Int32 column that <c>MapValueToKey("Label")</c> accepts. Pass
/// <c>keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue</c> to make key k + 1 mean digit k; the default
/// (by occurrence) numbers the digits in the order they first appear.</para>
/// </remarks>
public sealed class RotMnistImage
{
    /// <summary>Image height in pixels.</summary>
    public const int Height = 28;

    /// <summary>Image width in pixels.</summary>
    public const int Width = 28;

    /// <summary>Pixels per image: <see cref="Height"/> × <see cref="Width"/>.</summary>
    public const int PixelCount = Height * Width;

    /// <summary>The number of classes (digits 0 to 9).</summary>
    public const int ClassCount = 10;

    /// <summary>Creates an all-black image of digit 0 (what ML.NET needs to create rows).</summary>
    public RotMnistImage()
    {
        Pixels = new float[PixelCount];
    }

    /// <summary>Creates an image from its pixels and digit.</summary>
    /// <param name="pixels">The <see cref="PixelCount"/> intensities in [0, 1], row-major; kept, not copied.</param>
    /// <param name="label">The digit, 0 to 9.</param>
    /// <exception cref="ArgumentException">The pixel count or label is out of range.</exception>
    public RotMnistImage(float[] pixels, int label)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.Length != PixelCount)
        {
            throw new ArgumentException($"A RotMNIST image has {PixelCount} pixels (28×28); got {pixels.Length}.", nameof(pixels));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(label);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(label, ClassCount);
        Pixels = pixels;
        Label = label;
    }

    /// <summary>
    /// The 28 × 28 intensities in [0, 1], row-major (index = row · 28 + column). In an IDataView this is a vector of
    /// 784 Single with Dimensions [28, 28].
    /// </summary>
    [VectorType(Height, Width)]
    public float[] Pixels { get; set; }

    /// <summary>The digit, 0 to 9.</summary>
    public int Label { get; set; }
}
