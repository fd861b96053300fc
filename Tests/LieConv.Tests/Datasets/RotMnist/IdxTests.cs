using System.Buffers.Binary;
using System.IO.Compression;
using LieConv.Datasets.Io;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.RotMnist;

/// <summary>The IDX reader and writer: round trips (plain, gzip, non-seekable streams) and every kind of malformed file.</summary>
[TestFixture]
public sealed class IdxTests : RotMnistTempFolder
{
    private const int Rows = 4, Columns = 3;

    private static List<byte[]> SampleImages(int count)
    {
        var random = new Random(5);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var image = new byte[Rows * Columns];
            random.NextBytes(image);
            return image;
        }).ToList();
    }

    [TestCase("images.idx3-ubyte")]
    [TestCase("images.idx3-ubyte.gz")]
    public void WriteImagesFile_ThenRead_GivesBackTheImages(string name)
    {
        var images = SampleImages(5);
        string path = PathOf(name);
        Idx.WriteImagesFile(path, Rows, Columns, images);

        var header = Idx.ReadHeader(path);
        Assert.That(header.DataType, Is.EqualTo(IdxDataType.UnsignedByte));
        Assert.That(header.Dimensions, Is.EqualTo(new[] { 5, Rows, Columns }));
        Assert.That(header.ElementCount, Is.EqualTo(5 * Rows * Columns));
        var back = Idx.ReadImages(path).ToList();
        Assert.That(back, Is.EqualTo(images));
        Assert.That(Idx.ReadImages(path).ToList(), Is.EqualTo(images), "a second enumeration reads the file again");
    }

    [Test]
    public void WriteImages_WritesTheDocumentedLayout()
    {
        var images = SampleImages(2);
        var stream = new MemoryStream();
        Idx.WriteImages(stream, Rows, Columns, images);
        byte[] bytes = stream.ToArray();
        Assert.That(bytes[..4], Is.EqualTo(new byte[] { 0, 0, 8, 3 }));
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4)), Is.EqualTo(2));
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(8)), Is.EqualTo(Rows));
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(12)), Is.EqualTo(Columns));
        Assert.That(bytes[16..], Is.EqualTo(images[0].Concat(images[1]).ToArray()));
    }

    [TestCase("labels.idx1-ubyte")]
    [TestCase("labels.idx1-ubyte.gz")]
    public void WriteLabelsFile_ThenRead_GivesBackTheLabels(string name)
    {
        // More labels than one read chunk (65,536), so the chunked loop is exercised.
        var labels = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 7 % 10)).ToArray();
        string path = PathOf(name);
        Idx.WriteLabelsFile(path, labels);
        Assert.That(Idx.ReadHeader(path).Dimensions, Is.EqualTo(new[] { 70_000 }));
        Assert.That(Idx.ReadLabels(path).ToArray(), Is.EqualTo(labels));
    }

    [Test]
    public void GzipFiles_AreStandardReproducibleAndDetectedByContentNotName()
    {
        var images = SampleImages(3);
        string plain = PathOf("a.idx"), gz = PathOf("a.gz"), again = PathOf("b.gz");
        Idx.WriteImagesFile(plain, Rows, Columns, images);
        Idx.WriteImagesFile(gz, Rows, Columns, images);
        Idx.WriteImagesFile(again, Rows, Columns, images);
        byte[] gzBytes = File.ReadAllBytes(gz);

        // A fixed header: magic, deflate, no flags, time 0, XFL 0, OS unknown.
        Assert.That(gzBytes[..10], Is.EqualTo(new byte[] { 0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255 }));
        Assert.That(File.ReadAllBytes(again), Is.EqualTo(gzBytes), "same data, same bytes");

        // The runtime's own decoder checks our CRC-32 and length trailer.
        using (var decoder = new GZipStream(new MemoryStream(gzBytes), CompressionMode.Decompress))
        {
            var decompressed = new MemoryStream();
            decoder.CopyTo(decompressed);
            Assert.That(decompressed.ToArray(), Is.EqualTo(File.ReadAllBytes(plain)));
        }

        string disguised = PathOf("gzipped-but-named.idx3-ubyte");
        File.Copy(gz, disguised);
        Assert.That(Idx.ReadImages(disguised).ToList(), Is.EqualTo(images));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ReadFromNonSeekableStreams_Works(bool gzip)
    {
        var images = SampleImages(4);
        string path = PathOf(gzip ? "s.gz" : "s.idx");
        Idx.WriteImagesFile(path, Rows, Columns, images);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.That(Idx.ReadImages(() => new RotMnistTestData.ForwardOnlyStream(bytes), "pipe").ToList(), Is.EqualTo(images));
        Assert.That(Idx.ReadHeader(() => new RotMnistTestData.ForwardOnlyStream(bytes), "pipe").Dimensions, Is.EqualTo(new[] { 4, Rows, Columns }));
    }

    [Test]
    public void WriteImages_RefusesAnImageOfTheWrongSize()
    {
        var images = SampleImages(3);
        images[1] = new byte[Rows * Columns + 1];
        Assert.That(() => Idx.WriteImages(new MemoryStream(), Rows, Columns, images),
            Throws.ArgumentException.With.Message.Contains("Image 1 has 13 bytes; expected 4×3 = 12"));
    }

    private static byte[] Header(byte type, params int[] dimensions)
    {
        var bytes = new byte[4 + 4 * dimensions.Length];
        bytes[2] = type;
        bytes[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dimensions[i]);
        }

        return bytes;
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static IEnumerable<TestCaseData> MalformedImageFiles()
    {
        byte[] header = Header(8, 2, 2, 3);
        yield return new TestCaseData(Array.Empty<byte>(), "ends after 0 bytes").SetName("Empty file");
        yield return new TestCaseData(new byte[] { 0, 0 }, "ends after 2 bytes").SetName("Magic cut short");
        yield return new TestCaseData(Concat([1, 2], header[2..], new byte[12]), "two zero bytes").SetName("Bad magic");
        yield return new TestCaseData(Concat(Header(7, 2, 2, 3), new byte[12]), "unknown IDX element type 0x07").SetName("Unknown element type");
        yield return new TestCaseData(Concat(Header(0x0D, 2, 2, 3), new byte[24]), "found Float32 (0x0D) of rank 3").SetName("Float elements");
        yield return new TestCaseData(Concat(Header(8, 2), new byte[2]), "expected IDX images (count, rows, columns)").SetName("A label file read as images");
        yield return new TestCaseData(Concat(Header(8, 2, 2, 3)[..4], new byte[] { 0 }), "header is truncated").SetName("Truncated dimensions");
        yield return new TestCaseData(new byte[] { 0, 0, 8, 0 }, "declares 0 dimensions").SetName("Rank zero");
        yield return new TestCaseData(Header(8, -2, 2, 3), "dimension 0 of the IDX header is -2").SetName("Negative dimension");
        yield return new TestCaseData(Concat(header, new byte[11]), "ends inside image 1 (after 5 of its 6 bytes)").SetName("Truncated pixels");
        yield return new TestCaseData(Concat(header, new byte[13]), "longer than declared").SetName("Surplus pixels");
        yield return new TestCaseData(Concat(Header(8, 1, 0, 3)), "images of 0×3 pixels").SetName("Empty images");
    }

    [TestCaseSource(nameof(MalformedImageFiles))]
    public void MalformedImageFile_ThrowsNamingTheFileAndWhatWasExpected(byte[] bytes, string fragment)
    {
        string path = PathOf("bad-images.idx3-ubyte");
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path).ToList())!;
        Assert.That(error.Message, Does.StartWith(path + ": ").And.Contain(fragment));
    }

    [Test]
    public void MalformedLabelFiles_ThrowNamingTheFile()
    {
        string path = PathOf("bad-labels.idx1-ubyte");
        File.WriteAllBytes(path, Concat(Header(8, 5), new byte[4]));
        Assert.That(() => Idx.ReadLabels(path).ToList(), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(path + ": ").And.Message.Contains("declares 5 labels, but the data ends after 4"));

        File.WriteAllBytes(path, Concat(Header(8, 5), new byte[6]));
        Assert.That(() => Idx.ReadLabels(path).ToList(), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(path + ": ").And.Message.Contains("longer than declared"));

        File.WriteAllBytes(path, Concat(Header(8, 2, 2, 3), new byte[12]));
        Assert.That(() => Idx.ReadLabels(path).ToList(), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(path + ": ").And.Message.Contains("expected IDX labels (count)").And.Message.Contains("rank 3"));
    }

    [Test]
    public void CorruptOrTruncatedGzip_ThrowsNamingTheFile()
    {
        string good = PathOf("good.gz");
        Idx.WriteImagesFile(good, Rows, Columns, SampleImages(50));
        byte[] bytes = File.ReadAllBytes(good);

        string badChecksum = PathOf("bad-crc.gz");
        byte[] flipped = (byte[])bytes.Clone();
        flipped[^8] ^= 0xFF;
        File.WriteAllBytes(badChecksum, flipped);
        Assert.That(() => Idx.ReadImages(badChecksum).ToList(), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(badChecksum + ": ").And.Message.Contains("gzip"));

        string truncated = PathOf("truncated.gz");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        Assert.That(() => Idx.ReadImages(truncated).ToList(), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(truncated + ": "));
    }
}
