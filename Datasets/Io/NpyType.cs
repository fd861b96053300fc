namespace LieConv.Datasets.Io;

/// <summary>
/// The NumPy element types an <see cref="NpyArray"/> can hold. Each maps to one .NET element type for
/// <see cref="NpyArray.Data"/>: bool, sbyte, byte, short, int, long, float and double respectively.
/// </summary>
public enum NpyType
{
    /// <summary>NumPy <c>bool</c> (<c>|b1</c>), one byte per element; held as <see cref="bool"/>.</summary>
    Bool,

    /// <summary>NumPy <c>int8</c> (<c>|i1</c>); held as <see cref="sbyte"/>.</summary>
    Int8,

    /// <summary>NumPy <c>uint8</c> (<c>|u1</c>); held as <see cref="byte"/>.</summary>
    UInt8,

    /// <summary>NumPy <c>int16</c> (<c>&lt;i2</c>); held as <see cref="short"/>.</summary>
    Int16,

    /// <summary>NumPy <c>int32</c> (<c>&lt;i4</c>); held as <see cref="int"/>.</summary>
    Int32,

    /// <summary>NumPy <c>int64</c> (<c>&lt;i8</c>); held as <see cref="long"/>.</summary>
    Int64,

    /// <summary>NumPy <c>float32</c> (<c>&lt;f4</c>); held as <see cref="float"/>.</summary>
    Float32,

    /// <summary>NumPy <c>float64</c> (<c>&lt;f8</c>); held as <see cref="double"/>.</summary>
    Float64,
}

/// <summary>Sizes and the little-endian descr strings the writer emits, kept next to the enum so they cannot drift apart.</summary>
internal static class NpyTypeInfo
{
    public static int ItemSize(NpyType type) => type switch
    {
        NpyType.Bool or NpyType.Int8 or NpyType.UInt8 => 1,
        NpyType.Int16 => 2,
        NpyType.Int32 or NpyType.Float32 => 4,
        NpyType.Int64 or NpyType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>The descr NumPy itself writes for the type: '|' for single bytes, '&lt;' (little-endian) otherwise.</summary>
    public static string LittleEndianDescr(NpyType type) => type switch
    {
        NpyType.Bool => "|b1",
        NpyType.Int8 => "|i1",
        NpyType.UInt8 => "|u1",
        NpyType.Int16 => "<i2",
        NpyType.Int32 => "<i4",
        NpyType.Int64 => "<i8",
        NpyType.Float32 => "<f4",
        NpyType.Float64 => "<f8",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
