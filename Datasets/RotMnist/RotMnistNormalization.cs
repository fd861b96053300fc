namespace LieConv.Datasets.RotMnist;

/// <summary>
/// The input normalisation of the official LieConv RotMNIST pipeline: (x − 0.130) / 0.297 per pixel.
/// </summary>
/// <remarks>
/// The original applies it to the <c>.amat</c> intensities, which are already in [0, 1] (there is no division by 255),
/// after reading and before the random-rotation augmentation. The readers of this library return raw [0, 1]
/// intensities and never normalise, so the caller decides where in the pipeline (and whether) it happens. The arithmetic
/// is float32, like the original's tensor operation.
/// </remarks>
public static class RotMnistNormalization
{
    /// <summary>The mean subtracted from every pixel.</summary>
    public const float Mean = 0.130f;

    /// <summary>The standard deviation every centred pixel is divided by.</summary>
    public const float StandardDeviation = 0.297f;

    /// <summary>Normalises <paramref name="pixels"/> in place: x ↦ (x − <see cref="Mean"/>) / <see cref="StandardDeviation"/>.</summary>
    /// <param name="pixels">Raw intensities in [0, 1].</param>
    public static void Normalize(Span<float> pixels)
    {
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (pixels[i] - Mean) / StandardDeviation;
        }
    }

    /// <summary>Writes the normalised <paramref name="source"/> to <paramref name="destination"/>.</summary>
    /// <param name="source">Raw intensities in [0, 1].</param>
    /// <param name="destination">As long as <paramref name="source"/>; may be the same memory.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static void Normalize(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (destination.Length != source.Length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} values; expected {source.Length}, as many as the source.", nameof(destination));
        }

        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = (source[i] - Mean) / StandardDeviation;
        }
    }

    /// <summary>Undoes <see cref="Normalize(Span{float})"/> in place: x ↦ x · <see cref="StandardDeviation"/> + <see cref="Mean"/>.</summary>
    /// <param name="pixels">Normalised values.</param>
    public static void Denormalize(Span<float> pixels)
    {
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = pixels[i] * StandardDeviation + Mean;
        }
    }
}
