using LieConv.Runtime;

namespace LieConv.Datasets.RotMnist;

/// <summary>
/// Builds a rotated-MNIST set from upright digits: digit k is rotated by <see cref="ImageRotation"/> through the k-th
/// angle of a seeded stream of angles uniform in [0, 2π), so the same digits and seed always give the same images.
/// </summary>
/// <remarks>
/// The angles come from <c>TorchRuntime.CreateRandom(seed, "rotmnist-angles")</c> (a seeded <see cref="Random"/>,
/// whose sequence .NET keeps stable across versions), one <see cref="Random.NextDouble"/> × 2π per digit. The official
/// RotMNIST files were made by the benchmark's authors with their own (unpublished) angles; this generator reproduces
/// the recipe, not those files.
/// </remarks>
public static class RotMnistGenerator
{
    /// <summary>The purpose the angle stream is derived under from the seed (see <c>TorchRuntime.DeriveSeed</c>).</summary>
    public const string AnglePurpose = "rotmnist-angles";

    /// <summary>The endless stream of angles, in radians, that <see cref="Rotate"/> uses with <paramref name="seed"/>.</summary>
    /// <param name="seed">The seed.</param>
    public static IEnumerable<double> Angles(long seed)
    {
        var random = TorchRuntime.CreateRandom(seed, AnglePurpose);
        while (true)
        {
            yield return random.NextDouble() * (2 * Math.PI);
        }
    }

    /// <summary>Lazily rotates each digit by the next angle of <see cref="Angles"/>; labels are kept.</summary>
    /// <param name="digits">Upright 28 × 28 digits with intensities in [0, 1]; not modified.</param>
    /// <param name="seed">Fixes the angles.</param>
    public static IEnumerable<RotMnistImage> Rotate(IEnumerable<RotMnistImage> digits, long seed)
    {
        ArgumentNullException.ThrowIfNull(digits);
        return RotateCore(digits, seed);
    }

    /// <summary>Lazily reads MNIST IDX images and labels (see <see cref="RotMnistDataset.ReadIdx(string, string)"/>) and rotates them by <see cref="Rotate"/>.</summary>
    /// <param name="imagesPath">An <c>idx3-ubyte</c> file of 28 × 28 images, plain or gzipped.</param>
    /// <param name="labelsPath">The matching <c>idx1-ubyte</c> labels.</param>
    /// <param name="seed">Fixes the angles.</param>
    /// <exception cref="InvalidDataException">The files are malformed or do not match (checked on the headers now, on the data during enumeration).</exception>
    public static IEnumerable<RotMnistImage> FromIdx(string imagesPath, string labelsPath, long seed) =>
        Rotate(RotMnistDataset.ReadIdx(imagesPath, labelsPath), seed);

    private static IEnumerable<RotMnistImage> RotateCore(IEnumerable<RotMnistImage> digits, long seed)
    {
        using var angles = Angles(seed).GetEnumerator();
        foreach (var digit in digits)
        {
            angles.MoveNext();
            var rotated = ImageRotation.Rotate(digit.Pixels, RotMnistImage.Height, RotMnistImage.Width, angles.Current);
            yield return new RotMnistImage(rotated, digit.Label);
        }
    }
}
