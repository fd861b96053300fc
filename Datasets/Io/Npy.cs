using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace LieConv.Datasets.Io;

/// <summary>
/// Reads and writes NumPy <c>.npy</c> arrays and <c>.npz</c> archives (as written by <c>np.save</c>, <c>np.savez</c>
/// and <c>np.savez_compressed</c>) into plain .NET arrays.
/// </summary>
/// <remarks>
/// <para>Supported: format versions 1.0, 2.0 and 3.0; C-order arrays of <c>bool</c>, <c>int8</c>, <c>uint8</c>,
/// <c>int16</c>, <c>int32</c>, <c>int64</c>, <c>float32</c> and <c>float64</c> in either byte order (big-endian data is
/// converted on read); stored and deflated <c>.npz</c> members.</para>
/// <para>Every malformed or unsupported input throws <see cref="InvalidDataException"/> whose message starts with the
/// file (and <c>.npz</c> member) and says what was expected, so a bad dataset file can be found from the log alone.</para>
/// </remarks>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    // Chunked copies keep each Span within int range (arrays may exceed 2 GiB of bytes) and bound the scratch buffers.
    private const int ChunkBytes = 1 << 20;

    private const string NpyExtension = ".npy";

    /// <summary>
    /// Reads one array from <paramref name="stream"/>, consuming exactly its header and declared data so that
    /// arrays appended one after another to a stream (repeated <c>np.save</c> calls) can be read in turn.
    /// </summary>
    /// <param name="stream">Positioned at the array's magic string. Left open.</param>
    /// <param name="name">The array's <see cref="NpyArray.Name"/>, also used to identify the source in error messages.</param>
    /// <exception cref="InvalidDataException">The data is not a supported, well-formed .npy array, or is truncated.</exception>
    public static NpyArray Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        long? available = stream.CanSeek ? stream.Length - stream.Position : null;
        // More bytes may legitimately follow (another array), so only a shortfall is an error here.
        return ReadCore(stream, name, name, available, exactLength: false);
    }

    /// <summary>Reads an <c>.npy</c> file. Its <see cref="NpyArray.Name"/> is the file name (with extension).</summary>
    /// <param name="path">The file to read.</param>
    /// <exception cref="InvalidDataException">The file is not a supported, well-formed .npy array, or its size does not
    /// match the shape and dtype its header declares.</exception>
    public static NpyArray ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        // A whole file is one array, so surplus bytes mean the header's shape disagrees with the data.
        return ReadCore(stream, Path.GetFileName(path), path, stream.Length, exactLength: true);
    }

    /// <summary>Reads every <c>.npy</c> member of an <c>.npz</c> file, keyed by member name without <c>.npy</c>.</summary>
    /// <param name="path">The archive to read.</param>
    /// <remarks>Members not ending in <c>.npy</c> (and folder entries) are skipped: NumPy only stores arrays as
    /// <c>.npy</c> members and hands anything else back as raw bytes.</remarks>
    /// <exception cref="InvalidDataException">The file is not a zip archive, a member is malformed, or two members
    /// share a name.</exception>
    public static IReadOnlyDictionary<string, NpyArray> ReadNpz(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return ReadNpz(stream, path);
    }

    /// <summary>Reads every <c>.npy</c> member of an <c>.npz</c> archive held in <paramref name="stream"/>.</summary>
    /// <param name="stream">The archive; seekable streams avoid a full in-memory copy. Left open.</param>
    /// <param name="name">Identifies the archive in error messages, e.g. its path.</param>
    /// <remarks>Members not ending in <c>.npy</c> (and folder entries) are skipped, as in <see cref="ReadNpz(string)"/>.</remarks>
    /// <exception cref="InvalidDataException">The data is not a zip archive, a member is malformed, or two members
    /// share a name.</exception>
    public static IReadOnlyDictionary<string, NpyArray> ReadNpz(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        using var archive = OpenArchive(stream, name);
        var arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        foreach (var entry in archive.Entries)
        {
            if (!entry.FullName.EndsWith(NpyExtension, StringComparison.Ordinal))
            {
                continue;
            }

            var array = ReadEntry(entry, name);
            if (!arrays.TryAdd(array.Name, array))
            {
                throw NpyHeader.Error(name, $"the archive holds more than one member named '{entry.FullName}'; expected unique array names.");
            }
        }

        return arrays;
    }

    /// <summary>
    /// Reads one array from an <c>.npz</c> file, decompressing only that member, which matters for large archives
    /// where only a few arrays are needed.
    /// </summary>
    /// <param name="path">The archive to read.</param>
    /// <param name="member">The array name, with or without the <c>.npy</c> suffix.</param>
    /// <exception cref="InvalidDataException">The file is not a zip archive, has no such member, or the member is malformed.</exception>
    public static NpyArray ReadNpzMember(string path, string member)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return ReadNpzMember(stream, path, member);
    }

    /// <summary>Reads one array from an <c>.npz</c> archive held in <paramref name="stream"/>, decompressing only that member.</summary>
    /// <param name="stream">The archive. Left open.</param>
    /// <param name="name">Identifies the archive in error messages, e.g. its path.</param>
    /// <param name="member">The array name, with or without the <c>.npy</c> suffix.</param>
    /// <exception cref="InvalidDataException">The data is not a zip archive, has no such member, or the member is malformed.</exception>
    public static NpyArray ReadNpzMember(Stream stream, string name, string member)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(member);
        using var archive = OpenArchive(stream, name);
        // np.savez names members '<key>.npy'; the exact name is a fallback for callers who pass it.
        var matches = archive.Entries.Where(e => e.FullName == member + NpyExtension).ToList();
        if (matches.Count == 0)
        {
            matches = archive.Entries.Where(e => e.FullName == member && member.EndsWith(NpyExtension, StringComparison.Ordinal)).ToList();
        }

        if (matches.Count == 0)
        {
            var available = archive.Entries.Select(e => e.FullName).Where(n => n.EndsWith(NpyExtension, StringComparison.Ordinal))
                .Select(n => n[..^NpyExtension.Length]).ToList();
            string list = available.Count == 0 ? "none" : string.Join(", ", available.Take(40)) + (available.Count > 40 ? ", …" : "");
            throw NpyHeader.Error(name, $"no member '{StripNpy(member)}.npy' in the archive; expected one of its arrays: {list}.");
        }

        if (matches.Count > 1)
        {
            throw NpyHeader.Error(name, $"the archive holds {matches.Count} members named '{matches[0].FullName}'; expected exactly one.");
        }

        return ReadEntry(matches[0], name);
    }

    /// <summary>
    /// Writes <paramref name="array"/> as NumPy does: a version 1.0 header padded so the data starts on a 64-byte
    /// boundary, then the little-endian, C-order data. The array's name is not stored (an <c>.npy</c> has none).
    /// </summary>
    /// <param name="stream">Where to write. Left open.</param>
    /// <param name="array">The array to write.</param>
    public static void Write(Stream stream, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(array);
        stream.Write(BuildHeader(array));
        WriteData(stream, array);
    }

    /// <summary>Writes <paramref name="array"/> to an <c>.npy</c> file, replacing any existing file.</summary>
    /// <param name="path">The file to create.</param>
    /// <param name="array">The array to write.</param>
    public static void WriteFile(string path, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        Write(stream, array);
    }

    /// <summary>
    /// Writes <paramref name="arrays"/> as an <c>.npz</c> archive with one <c>&lt;Name&gt;.npy</c> member each, like
    /// <c>np.savez_compressed</c> (deflated) or <c>np.savez</c> (stored).
    /// </summary>
    /// <param name="stream">Where to write. Left open.</param>
    /// <param name="arrays">The arrays; their names must be unique.</param>
    /// <param name="compress">Deflate the members (smaller) or store them (faster to read back).</param>
    /// <exception cref="ArgumentException">Two arrays share a name.</exception>
    public static void WriteNpz(Stream stream, IEnumerable<NpyArray> arrays, bool compress = true)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(arrays);
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var array in arrays)
        {
            if (!names.Add(array.Name))
            {
                throw new ArgumentException($"Two arrays are named '{array.Name}'; .npz member names must be unique.", nameof(arrays));
            }

            var entry = archive.CreateEntry(array.Name + NpyExtension, compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
            using var entryStream = entry.Open();
            Write(entryStream, array);
        }
    }

    /// <summary>Writes an <c>.npz</c> file, replacing any existing file.</summary>
    /// <param name="path">The file to create.</param>
    /// <param name="arrays">The arrays; their names must be unique.</param>
    /// <param name="compress">Deflate the members (smaller) or store them (faster to read back).</param>
    /// <exception cref="ArgumentException">Two arrays share a name.</exception>
    public static void WriteNpzFile(string path, IEnumerable<NpyArray> arrays, bool compress = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        WriteNpz(stream, arrays, compress);
    }

    private static string StripNpy(string member) =>
        member.EndsWith(NpyExtension, StringComparison.Ordinal) ? member[..^NpyExtension.Length] : member;

    private static ZipArchive OpenArchive(Stream stream, string name)
    {
        try
        {
            return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw NpyHeader.Error(name, $"expected an .npz (zip) archive, but it cannot be read as one: {e.Message}", e);
        }
    }

    private static NpyArray ReadEntry(ZipArchiveEntry entry, string archiveName)
    {
        string source = $"{archiveName}, member '{entry.FullName}'";
        Stream stream;
        try
        {
            stream = entry.Open();
        }
        catch (InvalidDataException e)
        {
            throw NpyHeader.Error(source, $"the member cannot be opened (expected a stored or deflated zip entry): {e.Message}", e);
        }

        using (stream)
        {
            // The central directory records the uncompressed size, which is what lets a deflated member be checked exactly.
            return ReadCore(stream, StripNpy(entry.FullName), source, entry.Length, exactLength: true);
        }
    }

    /// <param name="stream">Positioned at the magic string.</param>
    /// <param name="name">The resulting array's name.</param>
    /// <param name="source">The file/member description that starts every error message.</param>
    /// <param name="available">Bytes from here to the end of the array's container, where known.</param>
    /// <param name="exactLength">Whether <paramref name="available"/> must equal the declared size rather than merely cover it.</param>
    private static NpyArray ReadCore(Stream stream, string name, string source, long? available, bool exactLength)
    {
        Span<byte> preamble = stackalloc byte[8];
        int got = ReadFully(stream, preamble, source);
        if (got < Magic.Length || !preamble[..Magic.Length].SequenceEqual(Magic))
        {
            throw NpyHeader.Error(source, $"expected an .npy array starting with the magic string \\x93NUMPY, found {Hex(preamble[..got])}" +
                                          (got < Magic.Length ? $" ({got} bytes, then the end of the data)." : "."));
        }

        if (got < preamble.Length)
        {
            throw NpyHeader.Error(source, "the .npy header is truncated: the data ends inside the format version.");
        }

        byte major = preamble[6], minor = preamble[7];
        int lengthBytes = (major, minor) switch
        {
            (1, 0) => 2,
            (2, 0) or (3, 0) => 4,
            _ => throw NpyHeader.Error(source, $"unsupported .npy format version {major}.{minor}; expected 1.0, 2.0 or 3.0."),
        };

        Span<byte> lengthField = stackalloc byte[4];
        if (ReadFully(stream, lengthField[..lengthBytes], source) < lengthBytes)
        {
            throw NpyHeader.Error(source, $"the .npy header is truncated: expected a {lengthBytes}-byte header length after version {major}.{minor}.");
        }

        long headerLength = lengthBytes == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(lengthField) : BinaryPrimitives.ReadUInt32LittleEndian(lengthField);
        if (headerLength > NpyHeader.MaxHeaderBytes)
        {
            throw NpyHeader.Error(source, $"the .npy header claims to be {headerLength} bytes long; expected at most {NpyHeader.MaxHeaderBytes} (the field is probably corrupt).");
        }

        long prefixBytes = 8 + lengthBytes + headerLength;
        if (available is { } limit && limit < prefixBytes)
        {
            throw NpyHeader.Error(source, $"the .npy header is truncated: expected {headerLength} header bytes but only {Math.Max(0, limit - 8 - lengthBytes)} follow.");
        }

        var headerBytes = new byte[headerLength];
        int headerGot = ReadFully(stream, headerBytes, source);
        if (headerGot < headerLength)
        {
            throw NpyHeader.Error(source, $"the .npy header is truncated: expected {headerLength} header bytes but only {headerGot} follow.");
        }

        var header = NpyHeader.Parse(DecodeHeader(headerBytes, major, source), source);
        if (available is { } total)
        {
            long dataAvailable = total - prefixBytes;
            // Checked before allocating so that a truncated file never costs an array of its declared size.
            if (dataAvailable < header.DataBytes || (exactLength && dataAvailable != header.DataBytes))
            {
                throw NpyHeader.Error(source, $"{(dataAvailable < header.DataBytes ? "the data is truncated" : "the data is longer than declared")}: " +
                                              $"shape {NpyArray.FormatShape(header.Shape)} of {header.Descr} needs {header.DataBytes} bytes " +
                                              $"but {dataAvailable} follow the header.");
            }
        }

        Array data = header.Type switch
        {
            NpyType.Bool => ReadBooleans(stream, header, source),
            NpyType.Int8 => ReadElements<sbyte>(stream, header, source),
            NpyType.UInt8 => ReadElements<byte>(stream, header, source),
            NpyType.Int16 => ReadElements<short>(stream, header, source),
            NpyType.Int32 => ReadElements<int>(stream, header, source),
            NpyType.Int64 => ReadElements<long>(stream, header, source),
            NpyType.Float32 => ReadElements<float>(stream, header, source),
            NpyType.Float64 => ReadElements<double>(stream, header, source),
            _ => throw new InvalidOperationException($"Unhandled {nameof(NpyType)} {header.Type}."),
        };
        return NpyArray.Create(name, header.Type, data, header.Shape);
    }

    private static string DecodeHeader(byte[] bytes, byte major, string source)
    {
        // Version 3.0 exists only to allow UTF-8 (in structured field names); 1.0 and 2.0 are Latin-1.
        if (major < 3)
        {
            return Encoding.Latin1.GetString(bytes);
        }

        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw NpyHeader.Error(source, "the version 3.0 header is not valid UTF-8.", e);
        }
    }

    private static T[] ReadElements<T>(Stream stream, NpyHeader header, string source) where T : unmanaged
    {
        var result = new T[header.Length];
        int itemSize = Unsafe.SizeOf<T>();
        int chunk = ChunkBytes / itemSize;
        for (long start = 0; start < result.Length; start += chunk)
        {
            int count = (int)Math.Min(chunk, result.Length - start);
            var bytes = MemoryMarshal.AsBytes(result.AsSpan((int)start, count));
            int got = ReadFully(stream, bytes, source);
            if (got < bytes.Length)
            {
                throw Truncated(header, start * itemSize + got, source);
            }
        }

        if (header.SwapBytes)
        {
            SwapInPlace(result);
        }

        return result;
    }

    private static bool[] ReadBooleans(Stream stream, NpyHeader header, string source)
    {
        // Not read straight into bool[]: a stray byte such as 2 would become a bool that is neither true nor false to .NET.
        var result = new bool[header.Length];
        var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(1, header.Length))];
        for (long start = 0; start < result.Length; start += buffer.Length)
        {
            int count = (int)Math.Min(buffer.Length, result.Length - start);
            int got = ReadFully(stream, buffer.AsSpan(0, count), source);
            if (got < count)
            {
                throw Truncated(header, start + got, source);
            }

            for (int i = 0; i < count; i++)
            {
                result[start + i] = buffer[i] != 0;
            }
        }

        return result;
    }

    private static void SwapInPlace<T>(T[] data) where T : unmanaged
    {
        switch (data)
        {
            case short[] s:
                BinaryPrimitives.ReverseEndianness(s, s);
                break;
            case int[] or float[]:
                var ints = MemoryMarshal.Cast<T, int>(data.AsSpan());
                BinaryPrimitives.ReverseEndianness(ints, ints);
                break;
            case long[] or double[]:
                var longs = MemoryMarshal.Cast<T, long>(data.AsSpan());
                BinaryPrimitives.ReverseEndianness(longs, longs);
                break;
        }
    }

    private static InvalidDataException Truncated(NpyHeader header, long got, string source) =>
        NpyHeader.Error(source, $"the data is truncated: shape {NpyArray.FormatShape(header.Shape)} of {header.Descr} needs {header.DataBytes} bytes " +
                                $"but the data ends after {got}.");

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns how many bytes were read.</summary>
    private static int ReadFully(Stream stream, Span<byte> buffer, string source)
    {
        try
        {
            return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            // Raised by DeflateStream for a corrupt .npz member; add which file and member it was.
            throw NpyHeader.Error(source, $"the stored data cannot be decoded (expected valid deflate or stored zip data): {e.Message}", e);
        }
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => bytes.Length == 0 ? "no bytes" : Convert.ToHexString(bytes);

    private static byte[] BuildHeader(NpyArray array)
    {
        // Exactly NumPy's spelling (including the trailing ", }") so files are byte-identical to np.save's.
        string dict = $"{{'descr': '{NpyTypeInfo.LittleEndianDescr(array.Type)}', 'fortran_order': False, 'shape': {NpyArray.FormatShape(array.Shape)}, }}";
        const int prefix = 10; // magic, version, 2-byte length
        // NumPy pads with spaces and a final newline so the data is 64-byte aligned, which allows memory-mapping.
        int total = (prefix + dict.Length + 1 + 63) / 64 * 64;
        int headerLength = total - prefix;
        if (headerLength > ushort.MaxValue)
        {
            throw new InvalidOperationException($"Array '{array.Name}' has too many dimensions for a version 1.0 header.");
        }

        var bytes = new byte[total];
        Magic.CopyTo(bytes);
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)headerLength);
        int written = Encoding.ASCII.GetBytes(dict, bytes.AsSpan(prefix));
        bytes.AsSpan(prefix + written, total - prefix - written - 1).Fill((byte)' ');
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    private static void WriteData(Stream stream, NpyArray array)
    {
        // By Type, not by matching Data's runtime type: a byte[] also passes as sbyte[] to the runtime's type test.
        switch (array.Type)
        {
            case NpyType.Bool:
                var flags = (bool[])array.Data;
                var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(1, flags.Length))];
                for (int start = 0; start < flags.Length; start += buffer.Length)
                {
                    int count = Math.Min(buffer.Length, flags.Length - start);
                    for (int i = 0; i < count; i++)
                    {
                        buffer[i] = flags[start + i] ? (byte)1 : (byte)0;
                    }

                    stream.Write(buffer, 0, count);
                }

                break;
            case NpyType.Int8: WriteElements(stream, (sbyte[])array.Data); break;
            case NpyType.UInt8: WriteElements(stream, (byte[])array.Data); break;
            case NpyType.Int16: WriteElements(stream, (short[])array.Data); break;
            case NpyType.Int32: WriteElements(stream, (int[])array.Data); break;
            case NpyType.Int64: WriteElements(stream, (long[])array.Data); break;
            case NpyType.Float32: WriteElements(stream, (float[])array.Data); break;
            case NpyType.Float64: WriteElements(stream, (double[])array.Data); break;
            default: throw new InvalidOperationException($"Array '{array.Name}' has unsupported type {array.Type}.");
        }
    }

    private static void WriteElements<T>(Stream stream, T[] data) where T : unmanaged
    {
        int chunk = ChunkBytes / Unsafe.SizeOf<T>();
        T[]? scratch = BitConverter.IsLittleEndian || Unsafe.SizeOf<T>() == 1 ? null : new T[Math.Min(chunk, data.Length)];
        for (int start = 0; start < data.Length; start += chunk)
        {
            int count = Math.Min(chunk, data.Length - start);
            var span = data.AsSpan(start, count);
            if (scratch is not null)
            {
                // The format is little-endian regardless of the machine; the caller's array must not be altered.
                span.CopyTo(scratch);
                SwapInPlace(scratch);
                span = scratch.AsSpan(0, count);
            }

            stream.Write(MemoryMarshal.AsBytes(span));
        }
    }
}
