using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using LieConv.Datasets.Io;
using LieConv.Datasets.RotMnist;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.RotMnist;

/// <summary>
/// The built-in RotMNIST set: its documented contents, its size budget, its README checksums, and that the generator
/// reproduces it byte for byte from the shared MNIST files.
/// </summary>
[TestFixture]
public sealed class BuiltinRotMnistTests : RotMnistTempFolder
{
    private static byte[] Resource(string name)
    {
        using var stream = BuiltinRotMnist.OpenResource(name);
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static byte[] Gunzip(byte[] bytes)
    {
        using var decoder = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
        var copy = new MemoryStream();
        decoder.CopyTo(copy);
        return copy.ToArray();
    }

    [Test]
    public void BuiltinSplits_HaveTheDocumentedCountsLabelsAndPixelRange()
    {
        // The numbers documented in Datasets/RotMnist/Builtin/README.md.
        Assert.That(BuiltinRotMnist.TrainCount, Is.EqualTo(6000));
        Assert.That(BuiltinRotMnist.TestCount, Is.EqualTo(2000));
        Assert.That(BuiltinRotMnist.Seed, Is.EqualTo(2002));

        foreach (var (split, expectedCount, expectedLabels) in new[]
                 {
                     (RotMnistDataset.BuiltinTrain(), BuiltinRotMnist.TrainCount, new[] { 568, 686, 625, 595, 599, 548, 562, 609, 587, 621 }),
                     (RotMnistDataset.BuiltinTest(), BuiltinRotMnist.TestCount, new[] { 205, 219, 209, 208, 189, 175, 194, 204, 200, 197 }),
                 })
        {
            var labels = new int[10];
            int count = 0;
            foreach (var image in split)
            {
                Assert.That(image.Label, Is.InRange(0, 9));
                labels[image.Label]++;
                Assert.That(image.Pixels, Has.Length.EqualTo(784));
                // Stored bytes b come back as b / 255: inside [0, 1] and on the 1/255 grid.
                int bad = Array.FindIndex(image.Pixels, p => !(p is >= 0 and <= 1 && p == (byte)Math.Round(p * 255) / 255f));
                Assert.That(bad, Is.EqualTo(-1), $"image {count} has an out-of-range or off-grid pixel");

                count++;
            }

            Assert.That(count, Is.EqualTo(expectedCount));
            Assert.That(labels, Is.EqualTo(expectedLabels));
        }

        // The first training digits are t10k's first digits (7, 2, 1, 0, 4), now rotated.
        Assert.That(RotMnistDataset.BuiltinTrain().Take(5).Select(i => i.Label), Is.EqualTo(new[] { 7, 2, 1, 0, 4 }));
    }

    [Test]
    public void BuiltinFiles_FitTheSizeBudgetAndMatchTheReadmeChecksums()
    {
        long total = BuiltinRotMnist.FileNames.Sum(name => (long)Resource(name).Length);
        Assert.That(total, Is.LessThanOrEqualTo(2_000_000), "the built-in set must stay within 2 MB");

        string readme = FindReadme();
        string text = File.ReadAllText(readme);
        foreach (string name in BuiltinRotMnist.FileNames)
        {
            var row = Regex.Match(text, $@"\|\s*`{Regex.Escape(name)}`\s*\|\s*([\d,]+)\s*\|\s*`([0-9a-f]{{64}})`");
            Assert.That(row.Success, $"{readme} has a table row for {name} with its size and sha256");
            byte[] bytes = Resource(name);
            Assert.That(Convert.ToHexStringLower(SHA256.HashData(bytes)), Is.EqualTo(row.Groups[2].Value), $"sha256 of {name} in {readme}");
            Assert.That(long.Parse(row.Groups[1].Value.Replace(",", "")), Is.EqualTo(bytes.Length), $"size of {name} in {readme}");
        }
    }

    [Test]
    public void Generate_OnTheSharedMnist_ReproducesTheCommittedFilesByteForByte()
    {
        string images = TestData.RequireSharedFile(RotMnistTestData.MnistImages);
        string labels = TestData.RequireSharedFile(RotMnistTestData.MnistLabels);

        // The documented command's arguments are the defaults.
        var paths = BuiltinRotMnist.Generate(images, labels, Folder, seed: 2002, trainCount: 6000, testCount: 2000);
        Assert.That(paths.Select(Path.GetFileName), Is.EqualTo(BuiltinRotMnist.FileNames));
        foreach (string path in paths)
        {
            string name = Path.GetFileName(path);
            byte[] regenerated = File.ReadAllBytes(path), committed = Resource(name);
            Assert.That(Gunzip(regenerated), Is.EqualTo(Gunzip(committed)), $"the IDX content of {name} differs: the generator's output changed");
            Assert.That(regenerated, Is.EqualTo(committed),
                $"{name}: the IDX content is equal but the gzip bytes differ, so this runtime's zlib deflates differently; " +
                "regenerate the files with the command in Datasets/RotMnist/Builtin/README.md and update its checksums");
        }
    }

    [Test]
    public void Generate_IsDeterministicAndStoresRoundedRotatedDigits()
    {
        // Five "digits" (random bytes keep the check sensitive to every pixel), independent of the shared data.
        var random = new Random(3);
        var digits = Enumerable.Range(0, 5).Select(_ =>
        {
            var b = new byte[784];
            random.NextBytes(b);
            return b;
        }).ToList();
        string images = PathOf("digits.idx3-ubyte"), labels = PathOf("digits.idx1-ubyte");
        Idx.WriteImagesFile(images, 28, 28, digits);
        Idx.WriteLabelsFile(labels, [3, 1, 4, 1, 5]);

        var first = BuiltinRotMnist.Generate(images, labels, PathOf("a"), seed: 9, trainCount: 3, testCount: 2);
        var second = BuiltinRotMnist.Generate(images, labels, PathOf("b"), seed: 9, trainCount: 3, testCount: 2);
        var otherSeed = BuiltinRotMnist.Generate(images, labels, PathOf("c"), seed: 10, trainCount: 3, testCount: 2);
        for (int f = 0; f < 4; f++)
        {
            Assert.That(File.ReadAllBytes(second[f]), Is.EqualTo(File.ReadAllBytes(first[f])), BuiltinRotMnist.FileNames[f]);
        }

        Assert.That(File.ReadAllBytes(otherSeed[0]), Is.Not.EqualTo(File.ReadAllBytes(first[0])));

        var angles = RotMnistGenerator.Angles(9).Take(5).ToList();
        var stored = Idx.ReadImages(first[0]).Concat(Idx.ReadImages(first[2])).ToList();
        Assert.That(Idx.ReadLabels(first[1]).Concat(Idx.ReadLabels(first[3])), Is.EqualTo(new byte[] { 3, 1, 4, 1, 5 }), "train then test, in order");
        for (int k = 0; k < 5; k++)
        {
            var rotated = ImageRotation.Rotate(digits[k].Select(b => b / 255f).ToArray(), 28, 28, angles[k]);
            var expected = rotated.Select(x => (byte)Math.Round(x * 255.0, MidpointRounding.AwayFromZero)).ToArray();
            Assert.That(stored[k], Is.EqualTo(expected), $"digit {k}");
        }

        Assert.That(() => BuiltinRotMnist.Generate(images, labels, PathOf("d"), seed: 9, trainCount: 4, testCount: 2),
            Throws.TypeOf<InvalidDataException>().With.Message.StartsWith(images + ": ").And.Message.Contains("holds 5 images; expected at least 6"));
    }

    [Test]
    public void OpenResource_RefusesUnknownNames()
    {
        Assert.That(() => BuiltinRotMnist.OpenResource("t10k-images-idx3-ubyte.gz"),
            Throws.ArgumentException.With.Message.Contains("not a built-in RotMNIST file"));
    }

    private static string FindReadme()
    {
        const string relative = "Datasets/RotMnist/Builtin/README.md";
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative.Replace('/', Path.DirectorySeparatorChar));
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Ignore($"{relative} was not found above {TestContext.CurrentContext.TestDirectory}; the checksum test needs the source tree.");
        throw new InvalidOperationException("unreachable: Assert.Ignore throws");
    }
}
