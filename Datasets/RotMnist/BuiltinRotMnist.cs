using LieConv.Datasets.Io;

namespace LieConv.Datasets.RotMnist;

/// <summary>
/// The built-in RotMNIST set shipped in this assembly, and the generator that makes it: the first
/// <see cref="TrainCount"/> + <see cref="TestCount"/> digits of the official MNIST test set (t10k), rotated by
/// <see cref="RotMnistGenerator"/> with <see cref="Seed"/> and quantised to bytes, in gzipped IDX files.
/// </summary>
/// <remarks>
/// <para>Digits 0 … <see cref="TrainCount"/> − 1 of t10k form the training split and the next <see cref="TestCount"/>
/// the test split, so the splits share no digit. The angles are one stream over both splits, digit k taking the k-th
/// angle. Rotated intensities x are stored as round(255·x), halves away from zero.</para>
/// <para>The tool <c>tools/MakeBuiltinRotMnist</c> calls <see cref="Generate"/>; <c>Datasets/RotMnist/Builtin/README.md</c>
/// gives the command, the licence and the checksums, and a test regenerates the files and compares them byte for byte.</para>
/// </remarks>
public static class BuiltinRotMnist
{
    /// <summary>The seed of the angles.</summary>
    public const long Seed = 2002;

    /// <summary>Images in the built-in training split.</summary>
    public const int TrainCount = 6000;

    /// <summary>Images in the built-in test split.</summary>
    public const int TestCount = 2000;

    /// <summary>The gzipped IDX file of the training images.</summary>
    public const string TrainImagesFileName = "rotmnist-train-images-idx3-ubyte.gz";

    /// <summary>The gzipped IDX file of the training labels.</summary>
    public const string TrainLabelsFileName = "rotmnist-train-labels-idx1-ubyte.gz";

    /// <summary>The gzipped IDX file of the test images.</summary>
    public const string TestImagesFileName = "rotmnist-test-images-idx3-ubyte.gz";

    /// <summary>The gzipped IDX file of the test labels.</summary>
    public const string TestLabelsFileName = "rotmnist-test-labels-idx1-ubyte.gz";

    // Must match the LogicalName given to the embedded files in LieConv.Datasets.csproj.
    private const string ResourcePrefix = "LieConv.Datasets.RotMnist.Builtin.";

    /// <summary>The four file names, in the order train images, train labels, test images, test labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } = [TrainImagesFileName, TrainLabelsFileName, TestImagesFileName, TestLabelsFileName];

    /// <summary>
    /// Writes the four built-in files (<see cref="FileNames"/>) into <paramref name="outputFolder"/>: the first
    /// <paramref name="trainCount"/> digits of the MNIST files as the training split and the next
    /// <paramref name="testCount"/> as the test split, rotated with <paramref name="seed"/>. The same inputs always give
    /// the same bytes.
    /// </summary>
    /// <param name="mnistImagesPath">MNIST images, e.g. <c>t10k-images-idx3-ubyte.gz</c>.</param>
    /// <param name="mnistLabelsPath">The matching labels, e.g. <c>t10k-labels-idx1-ubyte.gz</c>.</param>
    /// <param name="outputFolder">Created if missing; existing files of the same names are replaced.</param>
    /// <param name="seed">The seed of the angles (<see cref="Seed"/> for the shipped set).</param>
    /// <param name="trainCount">Training images (<see cref="TrainCount"/> for the shipped set).</param>
    /// <param name="testCount">Test images (<see cref="TestCount"/> for the shipped set).</param>
    /// <returns>The paths written, in the order of <see cref="FileNames"/>.</returns>
    /// <exception cref="InvalidDataException">The MNIST files are malformed, or hold fewer than
    /// <paramref name="trainCount"/> + <paramref name="testCount"/> digits.</exception>
    public static IReadOnlyList<string> Generate(string mnistImagesPath, string mnistLabelsPath, string outputFolder,
                                                 long seed = Seed, int trainCount = TrainCount, int testCount = TestCount)
    {
        ArgumentNullException.ThrowIfNull(mnistImagesPath);
        ArgumentNullException.ThrowIfNull(mnistLabelsPath);
        ArgumentNullException.ThrowIfNull(outputFolder);
        ArgumentOutOfRangeException.ThrowIfNegative(trainCount);
        ArgumentOutOfRangeException.ThrowIfNegative(testCount);
        int total = checked(trainCount + testCount);
        int available = Idx.ReadHeader(mnistImagesPath).Dimensions[0];
        if (available < total)
        {
            throw Idx.Error(mnistImagesPath, $"holds {available} images; expected at least {total} ({trainCount} for training and {testCount} for testing).");
        }

        var images = new List<byte[]>(total);
        var labels = new byte[total];
        foreach (var image in RotMnistGenerator.FromIdx(mnistImagesPath, mnistLabelsPath, seed).Take(total))
        {
            labels[images.Count] = (byte)image.Label;
            images.Add(Quantize(image.Pixels));
        }

        Directory.CreateDirectory(outputFolder);
        string[] paths = FileNames.Select(name => Path.Combine(outputFolder, name)).ToArray();
        Idx.WriteImagesFile(paths[0], RotMnistImage.Height, RotMnistImage.Width, images.GetRange(0, trainCount));
        Idx.WriteLabelsFile(paths[1], labels.AsSpan(0, trainCount));
        Idx.WriteImagesFile(paths[2], RotMnistImage.Height, RotMnistImage.Width, images.GetRange(trainCount, testCount));
        Idx.WriteLabelsFile(paths[3], labels.AsSpan(trainCount));
        return paths;
    }

    /// <summary>Opens one of the embedded built-in files (<see cref="FileNames"/>), still gzipped.</summary>
    /// <param name="fileName">One of <see cref="FileNames"/>.</param>
    /// <exception cref="ArgumentException">The name is not one of <see cref="FileNames"/>.</exception>
    /// <exception cref="InvalidOperationException">The assembly lacks the file (a build problem).</exception>
    public static Stream OpenResource(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        if (!FileNames.Contains(fileName))
        {
            throw new ArgumentException($"'{fileName}' is not a built-in RotMNIST file; expected one of {string.Join(", ", FileNames)}.", nameof(fileName));
        }

        var assembly = typeof(BuiltinRotMnist).Assembly;
        return assembly.GetManifestResourceStream(ResourcePrefix + fileName)
               ?? throw new InvalidOperationException($"{assembly.GetName().Name} has no embedded resource '{ResourcePrefix + fileName}'; " +
                                                      "expected Datasets/RotMnist/Builtin/*.gz to be embedded by LieConv.Datasets.csproj.");
    }

    internal static string ResourceDescription(string fileName) => $"built-in RotMNIST resource '{fileName}'";

    private static byte[] Quantize(float[] pixels)
    {
        var bytes = new byte[pixels.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            // Bilinear blends of [0, 1] values stay in [0, 1] up to rounding; the clamp makes the byte range certain.
            bytes[i] = (byte)Math.Round(Math.Clamp(pixels[i], 0f, 1f) * 255.0, MidpointRounding.AwayFromZero);
        }

        return bytes;
    }
}
