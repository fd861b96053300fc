using System.Buffers.Binary;
using System.IO.Compression;

namespace LieConv.Datasets.Io;

/// <summary>Byte-level helpers of the IDX reader and writer: gzip detection, full reads and a reproducible gzip writer.</summary>
internal static class IdxStreams
{
    private const byte GzipId1 = 0x1F, GzipId2 = 0x8B;

    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>
    /// Returns a stream of the decompressed data: <paramref name="raw"/> itself, or a gzip decoder over it when it starts
    /// with the gzip magic bytes (whatever the file is called, since MNIST mirrors do not always keep the .gz suffix).
    /// </summary>
    /// <param name="raw">Positioned at the start of the data. Disposed with the returned stream.</param>
    /// <param name="source">Starts every error message.</param>
    public static Stream OpenDecompressed(Stream raw, string source)
    {
        var magic = new byte[2];
        int got = ReadFully(raw, magic, source);
        Stream whole;
        if (raw.CanSeek)
        {
            raw.Seek(-got, SeekOrigin.Current);
            whole = raw;
        }
        else
        {
            whole = new PrefixedStream(magic.AsMemory(0, got), raw);
        }

        return got == 2 && magic[0] == GzipId1 && magic[1] == GzipId2 ? new GZipStream(whole, CompressionMode.Decompress, leaveOpen: false) : whole;
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the data ends; returns how many bytes were read.</summary>
    public static int ReadFully(Stream stream, Span<byte> buffer, string source)
    {
        try
        {
            return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            // Raised by GZipStream for corrupt compressed data or a checksum mismatch; add which file it was.
            throw Idx.Error(source, $"the gzip data cannot be decoded (expected a valid gzip stream): {e.Message}", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> as one gzip member whose header is fixed (no file name, modification time 0,
    /// operating system "unknown"), so that the same data gives the same bytes on every machine and at every time.
    /// </summary>
    /// <remarks><see cref="GZipStream"/> would record the operating system it ran on, which would make the committed
    /// built-in RotMNIST files differ between a Linux and a Windows regeneration. The deflate data itself comes from
    /// the runtime's zlib at <see cref="CompressionLevel.SmallestSize"/>.</remarks>
    public static void WriteGzip(Stream stream, ReadOnlySpan<byte> data)
    {
        // ID1 ID2, CM = deflate, FLG = none, MTIME = 0 (4 bytes), XFL = 0, OS = 255 (unknown): RFC 1952 §2.3.
        ReadOnlySpan<byte> header = [GzipId1, GzipId2, 8, 0, 0, 0, 0, 0, 0, 255];
        stream.Write(header);
        using (var deflate = new DeflateStream(stream, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            deflate.Write(data);
        }

        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, Crc32(data));
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], unchecked((uint)data.Length));
        stream.Write(trailer);
    }

    /// <summary>The CRC-32 of gzip and zip (reflected polynomial 0xEDB88320).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }

    /// <summary>A read-only stream that yields some already-consumed bytes before the rest of a non-seekable stream.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.IsEmpty)
            {
                return rest.Read(buffer);
            }

            int n = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..n].CopyTo(buffer);
            _prefix = _prefix[n..];
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                rest.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
