using System.Buffers.Binary;

namespace LieConv.Datasets.Io;

/// <summary>
/// Reads and writes IDX files of unsigned bytes, the format of MNIST and its variants: <c>idx3-ubyte</c> images
/// (count × rows × columns) and <c>idx1-ubyte</c> labels, plain or gzip-compressed.
/// </summary>
/// <remarks>
/// <para>The format is a 4-byte magic number (0x00, 0x00, element type, rank), one big-endian int32 size per
/// dimension, then the elements in row-major order.</para>
/// <para>Readers detect gzip by its magic bytes (1F 8B), not by the file name, and stream: they hold one image at a
/// time and open the file anew on every enumeration. Every malformed input (wrong magic, wrong element type or rank,
/// truncated data, surplus data, corrupt gzip) throws <see cref="InvalidDataException"/> whose message starts with the
/// file and says what was expected.</para>
/// </remarks>
public static class Idx
{
    /// <summary>The rank of an image file: count, rows, columns.</summary>
    public const int ImageRank = 3;

    /// <summary>The rank of a label file: count.</summary>
    public const int LabelRank = 1;

    private const string GzipExtension = ".gz";

    // Labels are read in chunks: byte-at-a-time reads through GZipStream are slow.
    private const int LabelChunk = 1 << 16;

    /// <summary>Reads only the header of an IDX file (decompressing just its first bytes when it is gzipped).</summary>
    /// <param name="path">The file to read.</param>
    /// <exception cref="InvalidDataException">The file does not start with a well-formed IDX header.</exception>
    public static IdxHeader ReadHeader(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ReadHeader(() => OpenFile(path), path);
    }

    /// <summary>Reads only the header of the IDX data that <paramref name="open"/> returns.</summary>
    /// <param name="open">Opens the (plain or gzipped) data; the stream is disposed afterwards.</param>
    /// <param name="source">Identifies the data in error messages, e.g. its path.</param>
    /// <exception cref="InvalidDataException">The data does not start with a well-formed IDX header.</exception>
    public static IdxHeader ReadHeader(Func<Stream> open, string source)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(source);
        using var data = Open(open, source);
        return IdxHeader.Read(data, source);
    }

    /// <summary>
    /// Streams the images of an <c>idx3-ubyte</c> file: one array of rows × columns bytes per image, row-major.
    /// Nothing is read until the enumeration starts; the header's sizes are in <see cref="ReadHeader(string)"/>.
    /// </summary>
    /// <param name="path">The file to read, plain or gzipped.</param>
    /// <exception cref="InvalidDataException">(During enumeration) the file is not an unsigned-byte IDX file of rank 3,
    /// or holds fewer or more bytes than its header declares.</exception>
    public static IEnumerable<byte[]> ReadImages(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ImagesCore(() => OpenFile(path), path);
    }

    /// <summary>Streams the images of the <c>idx3-ubyte</c> data that <paramref name="open"/> returns; see <see cref="ReadImages(string)"/>.</summary>
    /// <param name="open">Opens the (plain or gzipped) data, once per enumeration; the stream is disposed afterwards.</param>
    /// <param name="source">Identifies the data in error messages, e.g. its path or resource name.</param>
    public static IEnumerable<byte[]> ReadImages(Func<Stream> open, string source)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(source);
        return ImagesCore(open, source);
    }

    /// <summary>Streams the labels of an <c>idx1-ubyte</c> file. Nothing is read until the enumeration starts.</summary>
    /// <param name="path">The file to read, plain or gzipped.</param>
    /// <exception cref="InvalidDataException">(During enumeration) the file is not an unsigned-byte IDX file of rank 1,
    /// or holds fewer or more bytes than its header declares.</exception>
    public static IEnumerable<byte> ReadLabels(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return LabelsCore(() => OpenFile(path), path);
    }

    /// <summary>Streams the labels of the <c>idx1-ubyte</c> data that <paramref name="open"/> returns; see <see cref="ReadLabels(string)"/>.</summary>
    /// <param name="open">Opens the (plain or gzipped) data, once per enumeration; the stream is disposed afterwards.</param>
    /// <param name="source">Identifies the data in error messages, e.g. its path or resource name.</param>
    public static IEnumerable<byte> ReadLabels(Func<Stream> open, string source)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(source);
        return LabelsCore(open, source);
    }

    /// <summary>Writes an uncompressed <c>idx3-ubyte</c> image file to <paramref name="stream"/>.</summary>
    /// <param name="stream">Where to write. Left open.</param>
    /// <param name="rows">The height of every image.</param>
    /// <param name="columns">The width of every image.</param>
    /// <param name="images">The images, each <paramref name="rows"/> × <paramref name="columns"/> bytes, row-major.</param>
    /// <exception cref="ArgumentException">An image has the wrong number of bytes.</exception>
    public static void WriteImages(Stream stream, int rows, int columns, IReadOnlyCollection<byte[]> images)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        long size = (long)rows * columns;
        WriteHeader(stream, [images.Count, rows, columns]);
        int index = 0;
        foreach (var image in images)
        {
            if (image is null || image.Length != size)
            {
                throw new ArgumentException($"Image {index} has {image?.Length.ToString() ?? "no"} bytes; expected {rows}×{columns} = {size}.", nameof(images));
            }

            stream.Write(image);
            index++;
        }
    }

    /// <summary>Writes an uncompressed <c>idx1-ubyte</c> label file to <paramref name="stream"/>.</summary>
    /// <param name="stream">Where to write. Left open.</param>
    /// <param name="labels">The labels.</param>
    public static void WriteLabels(Stream stream, ReadOnlySpan<byte> labels)
    {
        ArgumentNullException.ThrowIfNull(stream);
        WriteHeader(stream, [labels.Length]);
        stream.Write(labels);
    }

    /// <summary>
    /// Writes an <c>idx3-ubyte</c> image file, gzip-compressed when <paramref name="path"/> ends in <c>.gz</c>,
    /// replacing any existing file. The gzip bytes depend only on the images (no time stamp or operating system).
    /// </summary>
    /// <param name="path">The file to create.</param>
    /// <param name="rows">The height of every image.</param>
    /// <param name="columns">The width of every image.</param>
    /// <param name="images">The images, each <paramref name="rows"/> × <paramref name="columns"/> bytes, row-major.</param>
    /// <exception cref="ArgumentException">An image has the wrong number of bytes.</exception>
    public static void WriteImagesFile(string path, int rows, int columns, IReadOnlyCollection<byte[]> images)
    {
        ArgumentNullException.ThrowIfNull(path);
        var buffer = new MemoryStream();
        WriteImages(buffer, rows, columns, images);
        WriteFile(path, buffer);
    }

    /// <summary>
    /// Writes an <c>idx1-ubyte</c> label file, gzip-compressed when <paramref name="path"/> ends in <c>.gz</c>,
    /// replacing any existing file. The gzip bytes depend only on the labels.
    /// </summary>
    /// <param name="path">The file to create.</param>
    /// <param name="labels">The labels.</param>
    public static void WriteLabelsFile(string path, ReadOnlySpan<byte> labels)
    {
        ArgumentNullException.ThrowIfNull(path);
        var buffer = new MemoryStream();
        WriteLabels(buffer, labels);
        WriteFile(path, buffer);
    }

    internal static InvalidDataException Error(string source, string message, Exception? inner = null) => new($"{source}: {message}", inner);

    private static IEnumerable<byte[]> ImagesCore(Func<Stream> open, string source)
    {
        using var data = Open(open, source);
        var header = IdxHeader.Read(data, source);
        Expect(header, ImageRank, "images (count, rows, columns)", source);
        int count = header.Dimensions[0], rows = header.Dimensions[1], columns = header.Dimensions[2];
        long size = (long)rows * columns;
        if (size == 0 || size > Array.MaxLength)
        {
            throw Error(source, $"the IDX header declares images of {rows}×{columns} pixels; expected a positive size of at most {Array.MaxLength} bytes.");
        }

        for (int i = 0; i < count; i++)
        {
            var image = new byte[size];
            int got = IdxStreams.ReadFully(data, image, source);
            if (got < image.Length)
            {
                throw Error(source, $"the data is truncated: the header declares {count} images of {rows}×{columns} bytes, " +
                                    $"but the data ends inside image {i} (after {got} of its {size} bytes).");
            }

            yield return image;
        }

        ExpectEnd(data, header, source);
    }

    private static IEnumerable<byte> LabelsCore(Func<Stream> open, string source)
    {
        using var data = Open(open, source);
        var header = IdxHeader.Read(data, source);
        Expect(header, LabelRank, "labels (count)", source);
        int count = header.Dimensions[0];
        var buffer = new byte[Math.Min(LabelChunk, Math.Max(1, count))];
        for (int start = 0; start < count; start += buffer.Length)
        {
            int want = Math.Min(buffer.Length, count - start);
            int got = IdxStreams.ReadFully(data, buffer.AsSpan(0, want), source);
            if (got < want)
            {
                throw Error(source, $"the data is truncated: the header declares {count} labels, but the data ends after {start + got}.");
            }

            for (int i = 0; i < want; i++)
            {
                yield return buffer[i];
            }
        }

        ExpectEnd(data, header, source);
    }

    private static void Expect(IdxHeader header, int rank, string what, string source)
    {
        if (header.DataType != IdxDataType.UnsignedByte || header.Dimensions.Count != rank)
        {
            throw Error(source, $"expected IDX {what}: unsigned bytes (type 0x08) of rank {rank}, magic number 000008{rank:X2}; " +
                                $"found {header.DataType} (0x{(byte)header.DataType:X2}) of rank {header.Dimensions.Count} ({string.Join("×", header.Dimensions)}).");
        }
    }

    private static void ExpectEnd(Stream data, IdxHeader header, string source)
    {
        Span<byte> probe = stackalloc byte[1];
        if (IdxStreams.ReadFully(data, probe, source) != 0)
        {
            throw Error(source, $"the data is longer than declared: the header ({string.Join("×", header.Dimensions)}) accounts for " +
                                $"{header.ByteLength + header.ElementCount} bytes, but more follow.");
        }
    }

    private static Stream Open(Func<Stream> open, string source)
    {
        var raw = open() ?? throw new InvalidOperationException($"The stream factory for '{source}' returned null.");
        try
        {
            return IdxStreams.OpenDecompressed(raw, source);
        }
        catch
        {
            raw.Dispose();
            throw;
        }
    }

    private static FileStream OpenFile(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);

    private static void WriteHeader(Stream stream, ReadOnlySpan<int> dimensions)
    {
        Span<byte> bytes = stackalloc byte[4 + 4 * dimensions.Length];
        bytes[0] = 0;
        bytes[1] = 0;
        bytes[2] = (byte)IdxDataType.UnsignedByte;
        bytes[3] = (byte)dimensions.Length;
        for (int i = 0; i < dimensions.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes[(4 + 4 * i)..], dimensions[i]);
        }

        stream.Write(bytes);
    }

    private static void WriteFile(string path, MemoryStream contents)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        var bytes = contents.GetBuffer().AsSpan(0, (int)contents.Length);
        if (path.EndsWith(GzipExtension, StringComparison.OrdinalIgnoreCase))
        {
            IdxStreams.WriteGzip(file, bytes);
        }
        else
        {
            file.Write(bytes);
        }
    }
}
