namespace LieConv.Datasets.Io;

/// <summary>The element type code of an IDX file (the third byte of its magic number).</summary>
/// <remarks>Only <see cref="UnsignedByte"/> can be read and written (it is what MNIST and its variants use); the other
/// codes are listed so that an error can say which type a file holds.</remarks>
public enum IdxDataType : byte
{
    /// <summary>Unsigned 8-bit integers (code 0x08), e.g. MNIST pixels and labels.</summary>
    UnsignedByte = 0x08,

    /// <summary>Signed 8-bit integers (code 0x09).</summary>
    SignedByte = 0x09,

    /// <summary>Big-endian signed 16-bit integers (code 0x0B).</summary>
    Int16 = 0x0B,

    /// <summary>Big-endian signed 32-bit integers (code 0x0C).</summary>
    Int32 = 0x0C,

    /// <summary>Big-endian 32-bit floats (code 0x0D).</summary>
    Float32 = 0x0D,

    /// <summary>Big-endian 64-bit floats (code 0x0E).</summary>
    Float64 = 0x0E,
}
