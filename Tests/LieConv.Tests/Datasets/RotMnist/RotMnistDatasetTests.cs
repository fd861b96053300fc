using LieConv.Datasets.Io;
using LieConv.Datasets.RotMnist;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.RotMnist;

/// <summary>
/// <see cref="RotMnistDataset"/> (IDX pairs, the official folder layout), <see cref="RotMnistImage"/> in ML.NET, and
/// <see cref="RotMnistNormalization"/>.
/// </summary>
[TestFixture]
public sealed class RotMnistDatasetTests : RotMnistTempFolder
{
    [Test]
    public void ReadIdx_OnTheSharedMnistTestSet_Gives10000DigitsStartingWithA7()
    {
        string images = TestData.RequireSharedFile(RotMnistTestData.MnistImages);
        string labels = TestData.RequireSharedFile(RotMnistTestData.MnistLabels);
        var counts = new int[10];
        int total = 0;
        float max = 0;
        RotMnistImage? first = null;
        foreach (var image in RotMnistDataset.ReadIdx(images, labels))
        {
            first ??= image;
            counts[image.Label]++;
            total++;
            Assert.That(image.Pixels, Has.Length.EqualTo(784));
            Assert.That(Array.TrueForAll(image.Pixels, p => p is >= 0 and <= 1), $"image {total - 1} has a pixel outside [0, 1]");
            max = Math.Max(max, image.Pixels.Max());
        }

        Assert.That(total, Is.EqualTo(10_000));
        Assert.That(first!.Label, Is.EqualTo(7));
        Assert.That(max, Is.EqualTo(1f), "ink is byte 255");
        // The known MNIST test distribution (also in shared/data/mnist/README.md).
        Assert.That(counts, Is.EqualTo(new[] { 980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009 }));
    }

    [Test]
    public void ReadIdx_ScalesBytesBy255()
    {
        string images = PathOf("i.idx3-ubyte"), labels = PathOf("l.idx1-ubyte");
        var bytes = Enumerable.Range(0, 784).Select(i => (byte)(i % 256)).ToArray();
        Idx.WriteImagesFile(images, 28, 28, [bytes]);
        Idx.WriteLabelsFile(labels, [9]);
        var image = RotMnistDataset.ReadIdx(images, labels).Single();
        Assert.That(image.Label, Is.EqualTo(9));
        Assert.That(image.Pixels, Is.EqualTo(bytes.Select(b => b / 255f).ToArray()));
    }

    [Test]
    public void ReadIdx_RefusesMismatchedOrWrongFiles()
    {
        string images = PathOf("i.idx3-ubyte"), labels = PathOf("l.idx1-ubyte"), small = PathOf("small.idx3-ubyte");
        Idx.WriteImagesFile(images, 28, 28, [new byte[784], new byte[784]]);
        Idx.WriteImagesFile(small, 4, 3, [new byte[12], new byte[12]]);

        Idx.WriteLabelsFile(labels, [1, 2, 3]);
        Assert.That(() => RotMnistDataset.ReadIdx(images, labels), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(labels + ": ").And.Message.Contains("holds 3 labels, but the images file " + images + " holds 2 images"));

        Idx.WriteLabelsFile(labels, [1, 2]);
        Assert.That(() => RotMnistDataset.ReadIdx(small, labels), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(small + ": ").And.Message.Contains("of 28×28 pixels"));
        Assert.That(() => RotMnistDataset.ReadIdx(labels, labels), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(labels + ": ").And.Message.Contains("28×28"));

        Idx.WriteLabelsFile(labels, [1, 10]);
        var rows = RotMnistDataset.ReadIdx(images, labels);
        Assert.That(() => rows.ToList(), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(labels + ": ").And.Message.Contains("label 1 is 10; expected a digit from 0 to 9"));
    }

    [TestCase("")]
    [TestCase("raw")]
    [TestCase("MnistRotDataset/raw")]
    public void FromFolder_FindsTheOfficialFilesWhereTheOriginalKeepsThem(string subfolder)
    {
        string folder = Path.Combine(Folder, subfolder);
        Directory.CreateDirectory(folder);
        string zeros = string.Join(" ", Enumerable.Repeat("0.0", 784));
        File.WriteAllText(Path.Combine(folder, RotMnistDataset.TrainFileName), zeros + " 3.0\n" + zeros + " 4.0\n");
        File.WriteAllText(Path.Combine(folder, RotMnistDataset.TestFileName), zeros + " 5.0\n");

        var splits = RotMnistDataset.FromFolder(Folder);
        Assert.That(splits.Train.Select(i => i.Label), Is.EqualTo(new[] { 3, 4 }));
        Assert.That(splits.Test.Select(i => i.Label), Is.EqualTo(new[] { 5 }));
    }

    [Test]
    public void FromFolder_WithoutTheFiles_SaysWhereItLooked()
    {
        var error = Assert.Throws<FileNotFoundException>(() => RotMnistDataset.FromFolder(Folder))!;
        Assert.That(error.Message, Does.Contain(RotMnistDataset.TrainFileName).And.Contain(Path.Combine(Folder, "MnistRotDataset", "raw"))
            .And.Contain("mnist_rotation_new.zip"));
    }

    [Test]
    public void Rows_LoadIntoMlNetAsA28By28VectorAndAnIntLabelThatMapValueToKeyAccepts()
    {
        var ml = new MLContext(seed: 1);
        int pulled = 0;
        var rows = RotMnistDataset.BuiltinTrain().Take(200).Select(r => { pulled++; return r; });
        var data = ml.Data.LoadFromEnumerable(rows);
        Assert.That(pulled, Is.Zero, "LoadFromEnumerable does not read ahead: the rows stream");

        var pixels = data.Schema["Pixels"].Type as VectorDataViewType;
        Assert.That(pixels, Is.Not.Null);
        Assert.That(pixels!.ItemType, Is.EqualTo(NumberDataViewType.Single));
        Assert.That(pixels.Size, Is.EqualTo(784));
        Assert.That(pixels.Dimensions, Is.EqualTo(new[] { 28, 28 }));
        Assert.That(data.Schema["Label"].Type, Is.EqualTo(NumberDataViewType.Int32));

        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Fit(data).Transform(data);
        var labelType = keyed.Schema["Label"].Type as KeyDataViewType;
        Assert.That(labelType, Is.Not.Null, "the label became a key");
        Assert.That(labelType!.Count, Is.EqualTo(10));
        var keys = keyed.GetColumn<uint>("Label").ToList();
        var digits = RotMnistDataset.BuiltinTrain().Take(200).Select(r => r.Label).ToList();
        Assert.That(keys, Is.EqualTo(digits.Select(d => (uint)(d + 1))), "by value: key k + 1 is digit k");
    }

    [Test]
    public void Normalization_UsesTheOriginalConstantsAndIsNotAppliedByReaders()
    {
        float[] pixels = [0f, 0.13f, 1f];
        RotMnistNormalization.Normalize(pixels);
        Assert.That(pixels[0], Is.EqualTo(-0.130f / 0.297f).Within(1e-6f));
        Assert.That(pixels[1], Is.EqualTo(0f).Within(1e-7f));
        Assert.That(pixels[2], Is.EqualTo((1f - 0.130f) / 0.297f));
        RotMnistNormalization.Denormalize(pixels);
        Assert.That(pixels, Is.EqualTo(new[] { 0f, 0.13f, 1f }).Within(1e-6f));

        var copy = new float[3];
        RotMnistNormalization.Normalize([0.5f, 0.25f, 0.75f], copy);
        Assert.That(copy, Is.EqualTo(new[] { (0.5f - 0.13f) / 0.297f, (0.25f - 0.13f) / 0.297f, (0.75f - 0.13f) / 0.297f }));
        Assert.That(() => RotMnistNormalization.Normalize([1f, 2f], new float[3]), Throws.ArgumentException);

        // Readers hand back raw intensities: a built-in image has black background 0, never −0.130/0.297.
        Assert.That(RotMnistDataset.BuiltinTest().First().Pixels.Min(), Is.EqualTo(0f));
    }
}
