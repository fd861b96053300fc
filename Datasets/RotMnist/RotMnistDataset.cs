using LieConv.Datasets.Io;

namespace LieConv.Datasets.RotMnist;

/// <summary>
/// Entry points to RotMNIST data as <see cref="RotMnistImage"/> rows: the official <c>.amat</c> files, MNIST-style IDX
/// files, and a small built-in set of real MNIST digits rotated by <see cref="RotMnistGenerator"/>.
/// </summary>
/// <remarks>
/// Every method returns a lazy sequence that reads its file again on each enumeration, so
/// <c>mlContext.Data.LoadFromEnumerable</c> streams it instead of holding the whole set. Pixels are raw intensities in
/// [0, 1]; see <see cref="RotMnistNormalization"/> for the original model's normalisation.
/// </remarks>
public static class RotMnistDataset
{
    /// <summary>The official training file (12,000 images; the original uses all of them for training, in order).</summary>
    public const string TrainFileName = "mnist_all_rotation_normalized_float_train_valid.amat";

    /// <summary>The official test file (50,000 images).</summary>
    public const string TestFileName = "mnist_all_rotation_normalized_float_test.amat";

    /// <summary>Images in <see cref="TrainFileName"/>.</summary>
    public const int OfficialTrainCount = 12_000;

    /// <summary>Images in <see cref="TestFileName"/>.</summary>
    public const int OfficialTestCount = 50_000;

    /// <summary>Streams an official RotMNIST <c>.amat</c> file (784 intensities in [0, 1] and a label per line).</summary>
    /// <param name="path">The file to read.</param>
    /// <exception cref="InvalidDataException">(During enumeration) a line is malformed; the message names the file and line.</exception>
    public static IEnumerable<RotMnistImage> ReadAmat(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Amat.ReadRows(path, RotMnistImage.PixelCount, RotMnistImage.ClassCount).Select(row => new RotMnistImage(row.Pixels, row.Label));
    }

    /// <summary>
    /// Streams 28 × 28 images and their labels from a pair of IDX files (plain or gzipped), such as MNIST's
    /// <c>t10k-images-idx3-ubyte.gz</c> and <c>t10k-labels-idx1-ubyte.gz</c>. Pixel bytes b become b / 255.
    /// </summary>
    /// <param name="imagesPath">An <c>idx3-ubyte</c> file of 28 × 28 images.</param>
    /// <param name="labelsPath">The matching <c>idx1-ubyte</c> labels, 0 to 9.</param>
    /// <exception cref="InvalidDataException">A header is malformed, the images are not 28 × 28, or the counts differ
    /// (checked now); the data is malformed or a label exceeds 9 (checked during enumeration).</exception>
    public static IEnumerable<RotMnistImage> ReadIdx(string imagesPath, string labelsPath)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        return ReadIdx(() => File.OpenRead(imagesPath), imagesPath, () => File.OpenRead(labelsPath), labelsPath);
    }

    /// <summary>
    /// Finds the two official <c>.amat</c> files (<see cref="TrainFileName"/>, <see cref="TestFileName"/>) in
    /// <paramref name="folder"/>, or in its <c>raw</c> or <c>MnistRotDataset/raw</c> subfolder (where the original
    /// stores them), and streams both.
    /// </summary>
    /// <param name="folder">The folder holding the unzipped <c>mnist_rotation_new.zip</c>, or a parent as above.</param>
    /// <exception cref="FileNotFoundException">A file is in none of the places looked at; the message lists them.</exception>
    public static RotMnistSplits FromFolder(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string[] candidates = [folder, Path.Combine(folder, "raw"), Path.Combine(folder, "MnistRotDataset", "raw")];
        return new RotMnistSplits(ReadAmat(Find(candidates, TrainFileName)), ReadAmat(Find(candidates, TestFileName)));
    }

    /// <summary>
    /// The built-in training set: <see cref="BuiltinRotMnist.TrainCount"/> real MNIST test-set digits, each rotated by a
    /// uniform random angle, shipped inside this assembly (see <see cref="BuiltinRotMnist"/> for how it was made).
    /// Intensities are the stored bytes / 255.
    /// </summary>
    public static IEnumerable<RotMnistImage> BuiltinTrain() =>
        ReadBuiltin(BuiltinRotMnist.TrainImagesFileName, BuiltinRotMnist.TrainLabelsFileName);

    /// <summary>
    /// The built-in test set: <see cref="BuiltinRotMnist.TestCount"/> rotated MNIST digits, disjoint from
    /// <see cref="BuiltinTrain"/>. Intensities are the stored bytes / 255.
    /// </summary>
    public static IEnumerable<RotMnistImage> BuiltinTest() =>
        ReadBuiltin(BuiltinRotMnist.TestImagesFileName, BuiltinRotMnist.TestLabelsFileName);

    internal static IEnumerable<RotMnistImage> ReadIdx(Func<Stream> openImages, string imagesSource, Func<Stream> openLabels, string labelsSource)
    {
        // Headers are checked now so that a wrong pair of files fails where it is named, not at the first training batch.
        var images = Idx.ReadHeader(openImages, imagesSource);
        var labels = Idx.ReadHeader(openLabels, labelsSource);
        if (images.DataType != IdxDataType.UnsignedByte || images.Dimensions.Count != Idx.ImageRank ||
            images.Dimensions[1] != RotMnistImage.Height || images.Dimensions[2] != RotMnistImage.Width)
        {
            throw Idx.Error(imagesSource, $"expected IDX unsigned-byte images of {RotMnistImage.Height}×{RotMnistImage.Width} pixels " +
                                          $"(count×28×28), found {images}.");
        }

        if (labels.DataType != IdxDataType.UnsignedByte || labels.Dimensions.Count != Idx.LabelRank)
        {
            throw Idx.Error(labelsSource, $"expected IDX unsigned-byte labels (one dimension, the count), found {labels}.");
        }

        if (images.Dimensions[0] != labels.Dimensions[0])
        {
            throw Idx.Error(labelsSource, $"holds {labels.Dimensions[0]} labels, but the images file {imagesSource} holds {images.Dimensions[0]} images; " +
                                          "expected one label per image.");
        }

        return Pair(Idx.ReadImages(openImages, imagesSource), Idx.ReadLabels(openLabels, labelsSource), labelsSource);
    }

    private static IEnumerable<RotMnistImage> Pair(IEnumerable<byte[]> images, IEnumerable<byte> labels, string labelsSource)
    {
        using var label = labels.GetEnumerator();
        int index = 0;
        foreach (var bytes in images)
        {
            // The headers agree on the count, and each reader fails on truncation, so both run out together.
            label.MoveNext();
            if (label.Current >= RotMnistImage.ClassCount)
            {
                throw Idx.Error(labelsSource, $"label {index} is {label.Current}; expected a digit from 0 to 9.");
            }

            var pixels = new float[bytes.Length];
            for (int i = 0; i < bytes.Length; i++)
            {
                // float32 division, as torchvision's ToTensor does.
                pixels[i] = bytes[i] / 255f;
            }

            yield return new RotMnistImage(pixels, label.Current);
            index++;
        }

        // Runs the label reader to its end, where it checks that no surplus bytes follow.
        label.MoveNext();
    }

    private static IEnumerable<RotMnistImage> ReadBuiltin(string imagesFile, string labelsFile) =>
        ReadIdx(() => BuiltinRotMnist.OpenResource(imagesFile), BuiltinRotMnist.ResourceDescription(imagesFile),
                () => BuiltinRotMnist.OpenResource(labelsFile), BuiltinRotMnist.ResourceDescription(labelsFile));

    private static string Find(string[] folders, string fileName)
    {
        foreach (string folder in folders)
        {
            string path = Path.Combine(folder, fileName);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException(
            $"The official RotMNIST file '{fileName}' is in none of: {string.Join(", ", folders)}. Expected the unzipped " +
            "mnist_rotation_new.zip (http://www.iro.umontreal.ca/~lisa/icml2007data/mnist_rotation_new.zip) in one of them.",
            Path.Combine(folders[0], fileName));
    }
}
