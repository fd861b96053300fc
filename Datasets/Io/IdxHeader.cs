using System.Buffers.Binary;

namespace LieConv.Datasets.Io;

/// <summary>The header of an IDX file: its element type and dimensions (e.g. 10000, 28, 28 for MNIST test images).</summary>
public sealed class IdxHeader
{
    private const int MagicBytes = 4;

    internal IdxHeader(IdxDataType dataType, int[] dimensions)
    {
        DataType = dataType;
        Dimensions = dimensions;
        long count = 1;
        foreach (int d in dimensions)
        {
            // Read has already refused headers whose product overflows.
            count = checked(count * d);
        }

        ElementCount = count;
    }

    /// <summary>The element type.</summary>
    public IdxDataType DataType { get; }

    /// <summary>The dimensions, outermost (the record count) first.</summary>
    public IReadOnlyList<int> Dimensions { get; }

    /// <summary>The number of elements the file declares: the product of <see cref="Dimensions"/>.</summary>
    public long ElementCount { get; }

    /// <summary>The header's size in bytes: the magic number and one 4-byte size per dimension.</summary>
    public int ByteLength => MagicBytes + 4 * Dimensions.Count;

    /// <summary>The element type and dimensions, e.g. <c>UnsignedByte 10000×28×28</c>, for messages.</summary>
    public override string ToString() => $"{DataType} {string.Join("×", Dimensions)}";

    /// <summary>Reads a header from the start of the (already decompressed) data.</summary>
    /// <param name="stream">Positioned at the magic number.</param>
    /// <param name="source">Starts every error message, e.g. the file path.</param>
    internal static IdxHeader Read(Stream stream, string source)
    {
        Span<byte> magic = stackalloc byte[MagicBytes];
        int got = IdxStreams.ReadFully(stream, magic, source);
        if (got < MagicBytes)
        {
            throw Idx.Error(source, $"expected an IDX file starting with a 4-byte magic number (0x00 0x00, type, rank), but the data ends after {got} bytes.");
        }

        if (magic[0] != 0 || magic[1] != 0)
        {
            throw Idx.Error(source, $"expected an IDX file whose magic number starts with two zero bytes (e.g. 00000803 for images, 00000801 for labels), " +
                                    $"found {Convert.ToHexString(magic)}.");
        }

        var type = (IdxDataType)magic[2];
        if (!Enum.IsDefined(type))
        {
            throw Idx.Error(source, $"unknown IDX element type 0x{magic[2]:X2} in magic number {Convert.ToHexString(magic)}; expected 0x08 (unsigned byte), " +
                                    "0x09, 0x0B, 0x0C, 0x0D or 0x0E.");
        }

        int rank = magic[3];
        if (rank == 0)
        {
            throw Idx.Error(source, $"the magic number {Convert.ToHexString(magic)} declares 0 dimensions; expected at least 1.");
        }

        var sizes = new byte[4 * rank];
        got = IdxStreams.ReadFully(stream, sizes, source);
        if (got < sizes.Length)
        {
            throw Idx.Error(source, $"the IDX header is truncated: expected {rank} dimension sizes ({sizes.Length} bytes) after the magic number, " +
                                    $"but only {got} bytes follow.");
        }

        var dimensions = new int[rank];
        long elements = 1;
        for (int i = 0; i < rank; i++)
        {
            dimensions[i] = BinaryPrimitives.ReadInt32BigEndian(sizes.AsSpan(4 * i));
            if (dimensions[i] < 0)
            {
                throw Idx.Error(source, $"dimension {i} of the IDX header is {dimensions[i]}; expected a non-negative size.");
            }

            try
            {
                elements = checked(elements * dimensions[i]);
            }
            catch (OverflowException)
            {
                throw Idx.Error(source, $"the IDX dimensions {string.Join("×", dimensions[..(i + 1)])} multiply to more than {long.MaxValue} elements; " +
                                        "expected a size that fits in memory (the header is probably corrupt).");
            }
        }

        return new IdxHeader(type, dimensions);
    }
}
