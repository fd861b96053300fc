using System.Numerics;

namespace LieConv.Datasets.Io;

/// <summary>
/// An n-dimensional array read from (or to be written to) a NumPy <c>.npy</c> file: a flat, C-order (row-major)
/// .NET array plus its shape and element type.
/// </summary>
/// <remarks>
/// The typed accessors (<see cref="ToDoubles"/> and friends) always return a new array, so callers may modify
/// the result freely; <see cref="Data"/> is the zero-copy escape hatch for large arrays.
/// </remarks>
public sealed class NpyArray
{
    private readonly long[] _shape;

    /// <summary>A <see cref="NpyType.Bool"/> array.</summary>
    /// <param name="name">The array's name, e.g. its member name inside an <c>.npz</c>.</param>
    /// <param name="data">The elements in C order; kept, not copied.</param>
    /// <param name="shape">The dimensions; <c>[]</c> for a scalar. Their product must equal the data length.</param>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public NpyArray(string name, bool[] data, IReadOnlyList<long> shape) : this(name, NpyType.Bool, data, shape) { }

    /// <summary>An <see cref="NpyType.Int8"/> array.</summary>
    /// <param name="name">The array's name, e.g. its member name inside an <c>.npz</c>.</param>
    /// <param name="data">The elements in C order; kept, not copied.</param>
    /// <param name="shape">The dimensions; <c>[]</c> for a scalar. Their product must equal the data length.</param>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public NpyArray(string name, sbyte[] data, IReadOnlyList<long> shape) : this(name, NpyType.Int8, data, shape) { }

    /// <summary>A <see cref="NpyType.UInt8"/> array.</summary>
    /// <param name="name">The array's name, e.g. its member name inside an <c>.npz</c>.</param>
    /// <param name="data">The elements in C order; kept, not copied.</param>
    /// <param name="shape">The dimensions; <c>[]</c> for a scalar. Their product must equal the data length.</param>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public NpyArray(string name, byte[] data, IReadOnlyList<long> shape) : this(name, NpyType.UInt8, data, shape) { }

    /// <summary>An <see cref="NpyType.Int16"/> array.</summary>
    /// <param name="name">The array's name, e.g. its member name inside an <c>.npz</c>.</param>
    /// <param name="data">The elements in C order; kept, not copied.</param>
    /// <param name="shape">The dimensions; <c>[]</c> for a scalar. Their product must equal the data length.</param>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public NpyArray(string name, short[] data, IReadOnlyList<long> shape) : this(name, NpyType.Int16, data, shape) { }

    /// <summary>An <see cref="NpyType.Int32"/> array.</summary>
    /// <param name="name">The array's name, e.g. its member name inside an <c>.npz</c>.</param>
    /// <param name="data">The elements in C order; kept, not copied.</param>
    /// <param name="shape">The dimensions; <c>[]</c> for a scalar. Their product must equal the data length.</param>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public NpyArray(string name, int[] data, IReadOnlyList<long> shape) : this(name, NpyType.Int32, data, shape) { }

    /// <summary>An <see cref="NpyType.Int64"/> array.</summary>
    /// <param name="name">The array's name, e.g. its member name inside an <c>.npz</c>.</param>
    /// <param name="data">The elements in C order; kept, not copied.</param>
    /// <param name="shape">The dimensions; <c>[]</c> for a scalar. Their product must equal the data length.</param>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public NpyArray(string name, long[] data, IReadOnlyList<long> shape) : this(name, NpyType.Int64, data, shape) { }

    /// <summary>A <see cref="NpyType.Float32"/> array.</summary>
    /// <param name="name">The array's name, e.g. its member name inside an <c>.npz</c>.</param>
    /// <param name="data">The elements in C order; kept, not copied.</param>
    /// <param name="shape">The dimensions; <c>[]</c> for a scalar. Their product must equal the data length.</param>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public NpyArray(string name, float[] data, IReadOnlyList<long> shape) : this(name, NpyType.Float32, data, shape) { }

    /// <summary>A <see cref="NpyType.Float64"/> array.</summary>
    /// <param name="name">The array's name, e.g. its member name inside an <c>.npz</c>.</param>
    /// <param name="data">The elements in C order; kept, not copied.</param>
    /// <param name="shape">The dimensions; <c>[]</c> for a scalar. Their product must equal the data length.</param>
    /// <exception cref="ArgumentException">The shape has a negative dimension or does not match the data length.</exception>
    public NpyArray(string name, double[] data, IReadOnlyList<long> shape) : this(name, NpyType.Float64, data, shape) { }

    private NpyArray(string name, NpyType type, Array data, IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        if (data.GetType() != ElementArrayType(type))
        {
            // Possible only by disguising an array through object casts, e.g. a byte[] passed as sbyte[].
            throw new ArgumentException($"Array '{name}': {type} data must be a {ElementArrayType(type)}, not a {data.GetType()}.", nameof(data));
        }

        _shape = shape.ToArray();
        long length = 1;
        foreach (long dimension in _shape)
        {
            if (dimension < 0)
            {
                throw new ArgumentException($"Array '{name}': shape {FormatShape(_shape)} has a negative dimension.", nameof(shape));
            }

            // A product past long.MaxValue cannot equal any .NET array length, so saturating is enough to reject it.
            length = dimension != 0 && length > long.MaxValue / dimension ? long.MaxValue : length * dimension;
        }

        if (length != data.LongLength)
        {
            throw new ArgumentException(
                $"Array '{name}': shape {FormatShape(_shape)} holds {length} elements but {data.LongLength} were given.", nameof(shape));
        }

        Name = name;
        Type = type;
        Data = data;
        Length = length;
        Shape = Array.AsReadOnly(_shape);
    }

    /// <summary>The member name without <c>.npy</c> for arrays from an <c>.npz</c>; the file (or caller-given) name otherwise.</summary>
    public string Name { get; }

    /// <summary>The dimensions in C order; empty for a 0-d (scalar) array.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>The element type.</summary>
    public NpyType Type { get; }

    /// <summary>The number of elements, the product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long Length { get; }

    /// <summary>The number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>
    /// The backing flat array, not a copy: a <c>bool[]</c>, <c>sbyte[]</c>, <c>byte[]</c>, <c>short[]</c>, <c>int[]</c>,
    /// <c>long[]</c>, <c>float[]</c> or <c>double[]</c> according to <see cref="Type"/>.
    /// </summary>
    public Array Data { get; }

    // The switches go by Type, not by pattern-matching Data: the runtime lets a byte[] pass as sbyte[] (and vice versa),
    // so "Data is sbyte[]" would be true for UInt8 data and 200 would come out as -56.

    /// <summary>The elements as doubles. Exact for every type except <see cref="NpyType.Int64"/> beyond ±2⁵³, which rounds.</summary>
    public double[] ToDoubles() => Type switch
    {
        NpyType.Bool => Map((bool[])Data, static x => x ? 1.0 : 0.0),
        NpyType.Int8 => Widen<sbyte, double>((sbyte[])Data),
        NpyType.UInt8 => Widen<byte, double>((byte[])Data),
        NpyType.Int16 => Widen<short, double>((short[])Data),
        NpyType.Int32 => Widen<int, double>((int[])Data),
        NpyType.Int64 => Widen<long, double>((long[])Data),
        NpyType.Float32 => Widen<float, double>((float[])Data),
        NpyType.Float64 => (double[])Data.Clone(),
        _ => throw Unreachable(),
    };

    /// <summary>
    /// The elements as floats, rounded to nearest where float32 cannot hold them (large integers, float64 values);
    /// float64 values beyond the float32 range become infinities, as in NumPy's <c>astype(np.float32)</c>.
    /// </summary>
    public float[] ToSingles() => Type switch
    {
        NpyType.Bool => Map((bool[])Data, static x => x ? 1f : 0f),
        NpyType.Int8 => Widen<sbyte, float>((sbyte[])Data),
        NpyType.UInt8 => Widen<byte, float>((byte[])Data),
        NpyType.Int16 => Widen<short, float>((short[])Data),
        NpyType.Int32 => Widen<int, float>((int[])Data),
        NpyType.Int64 => Widen<long, float>((long[])Data),
        NpyType.Float32 => (float[])Data.Clone(),
        NpyType.Float64 => Widen<double, float>((double[])Data),
        _ => throw Unreachable(),
    };

    /// <summary>The elements as 64-bit integers; booleans become 0 and 1.</summary>
    /// <exception cref="InvalidCastException">A floating-point element is NaN, infinite, fractional or out of range:
    /// unlike NumPy's truncating <c>astype</c>, silently changing a value here would hide a wrong-dtype bug.</exception>
    public long[] ToInt64s() => Type switch
    {
        NpyType.Bool => Map((bool[])Data, static x => x ? 1L : 0L),
        NpyType.Int8 => Widen<sbyte, long>((sbyte[])Data),
        NpyType.UInt8 => Widen<byte, long>((byte[])Data),
        NpyType.Int16 => Widen<short, long>((short[])Data),
        NpyType.Int32 => Widen<int, long>((int[])Data),
        NpyType.Int64 => (long[])Data.Clone(),
        NpyType.Float32 => Exact<float, long>((float[])Data),
        NpyType.Float64 => Exact<double, long>((double[])Data),
        _ => throw Unreachable(),
    };

    /// <summary>The elements as 32-bit integers; booleans become 0 and 1.</summary>
    /// <exception cref="InvalidCastException">An element has no exact <see cref="int"/> value (out of range, or a
    /// NaN, infinite or fractional float).</exception>
    public int[] ToInt32s() => Type switch
    {
        NpyType.Bool => Map((bool[])Data, static x => x ? 1 : 0),
        NpyType.Int8 => Widen<sbyte, int>((sbyte[])Data),
        NpyType.UInt8 => Widen<byte, int>((byte[])Data),
        NpyType.Int16 => Widen<short, int>((short[])Data),
        NpyType.Int32 => (int[])Data.Clone(),
        NpyType.Int64 => Exact<long, int>((long[])Data),
        NpyType.Float32 => Exact<float, int>((float[])Data),
        NpyType.Float64 => Exact<double, int>((double[])Data),
        _ => throw Unreachable(),
    };

    /// <summary>The name, NumPy descr and shape, e.g. <c>positions &lt;f4 (13083, 29, 3)</c>.</summary>
    public override string ToString() => $"{Name} {NpyTypeInfo.LittleEndianDescr(Type)} {FormatShape(_shape)}";

    /// <summary>A shape as Python prints the tuple, which is also how the .npy header spells it: (), (3,), (2, 3).</summary>
    internal static string FormatShape(IReadOnlyList<long> shape) => shape.Count switch
    {
        0 => "()",
        1 => $"({shape[0]},)",
        _ => "(" + string.Join(", ", shape) + ")",
    };

    /// <summary>Builds an array whose data the reader has already matched to the shape and type.</summary>
    internal static NpyArray Create(string name, NpyType type, Array data, IReadOnlyList<long> shape) => new(name, type, data, shape);

    private static Type ElementArrayType(NpyType type) => type switch
    {
        NpyType.Bool => typeof(bool[]),
        NpyType.Int8 => typeof(sbyte[]),
        NpyType.UInt8 => typeof(byte[]),
        NpyType.Int16 => typeof(short[]),
        NpyType.Int32 => typeof(int[]),
        NpyType.Int64 => typeof(long[]),
        NpyType.Float32 => typeof(float[]),
        NpyType.Float64 => typeof(double[]),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    private static TTo[] Map<TFrom, TTo>(TFrom[] source, Func<TFrom, TTo> convert)
    {
        var result = new TTo[source.Length];
        for (int i = 0; i < source.Length; i++)
        {
            result[i] = convert(source[i]);
        }

        return result;
    }

    // Generic math keeps each conversion a specialised loop without writing 30 of them by hand.
    private static TTo[] Widen<TFrom, TTo>(TFrom[] source)
        where TFrom : INumberBase<TFrom>
        where TTo : INumberBase<TTo>
    {
        var result = new TTo[source.Length];
        for (int i = 0; i < source.Length; i++)
        {
            result[i] = TTo.CreateTruncating(source[i]);
        }

        return result;
    }

    private TTo[] Exact<TFrom, TTo>(TFrom[] source)
        where TFrom : INumberBase<TFrom>
        where TTo : IBinaryInteger<TTo>, IMinMaxValue<TTo>
    {
        // Compared in double, where every int32 and ±2⁶³ are exact; the upper bound is exclusive because
        // (double)long.MaxValue rounds up to 2⁶³, which does not fit.
        double min = double.CreateTruncating(TTo.MinValue);
        double maxExclusive = double.CreateTruncating(TTo.MaxValue) + 1.0;
        bool isInteger = typeof(TFrom) == typeof(long);
        var result = new TTo[source.Length];
        for (int i = 0; i < source.Length; i++)
        {
            TFrom value = source[i];
            bool fits = isInteger
                ? TTo.CreateSaturating(value) == TTo.CreateTruncating(value)
                : double.CreateTruncating(value) is var d && d >= min && d < maxExclusive && Math.Truncate(d) == d;
            if (!fits)
            {
                throw new InvalidCastException(
                    $"Array '{Name}' ({NpyTypeInfo.LittleEndianDescr(Type)}): element {i} = {value} has no exact {typeof(TTo).Name} value.");
            }

            result[i] = TTo.CreateTruncating(value);
        }

        return result;
    }

    private static InvalidOperationException Unreachable() => new("NpyArray holds an array of an unsupported element type.");
}
