using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace LieConv.Nn;

/// <summary>
/// The float vectors the C# passes compute with (<see cref="KernelNetworkPasses"/>): one pass written once over this
/// interface runs with 512-bit vectors where the CPU has them natively and 256-bit ones elsewhere, each a struct the
/// JIT compiles the passes for separately, so that every call below is a single instruction or a few.
/// </summary>
/// <remarks>
/// .NET's own generic vector interface is not public, and <see cref="Vector512{T}"/> on a CPU without AVX-512 is
/// emulated at about the speed of libtorch's operations (RotMNIST SE(2)'s kernel network on 600k pairs: 200 ms
/// forward, 480–570 backward, against 130 and 270 with 256-bit vectors there).
/// </remarks>
internal unsafe interface ILanes<TSelf> where TSelf : struct, ILanes<TSelf>
{
    /// <summary>Floats in a vector.</summary>
    static abstract int Count { get; }

    static abstract TSelf Zero { get; }

    static abstract TSelf One { get; }

    static abstract TSelf Load(float* source);

    static abstract TSelf Create(float value);

    static abstract TSelf FusedMultiplyAdd(TSelf a, TSelf b, TSelf addend);

    static abstract TSelf Min(TSelf a, TSelf b);

    static abstract TSelf Max(TSelf a, TSelf b);

    static abstract TSelf Round(TSelf value);

    /// <summary>2^k for lanes holding whole numbers k in [−126, 127], by the exponent bits.</summary>
    static abstract TSelf PowerOfTwo(TSelf wholeNumbers);

    /// <summary>1 where a lane is above 0, else 0.</summary>
    static abstract TSelf Step(TSelf value);

    static abstract TSelf operator +(TSelf a, TSelf b);

    static abstract TSelf operator -(TSelf a, TSelf b);

    static abstract TSelf operator -(TSelf value);

    static abstract TSelf operator *(TSelf a, TSelf b);

    static abstract TSelf operator /(TSelf a, TSelf b);

    void Store(float* destination);

    /// <summary>Adds the lanes to as many double sums: float sums over a band's rows would lose the small differences batch norm's gradient is made of.</summary>
    void AddTo(double* sums);
}

/// <summary>Eight floats (AVX2).</summary>
internal readonly unsafe struct Lanes256(Vector256<float> value) : ILanes<Lanes256>
{
    private readonly Vector256<float> value = value;

    public static int Count => Vector256<float>.Count;
    public static Lanes256 Zero => new(Vector256<float>.Zero);
    public static Lanes256 One => new(Vector256<float>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Load(float* source) => new(Vector256.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Create(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 FusedMultiplyAdd(Lanes256 a, Lanes256 b, Lanes256 addend) => new(Vector256.FusedMultiplyAdd(a.value, b.value, addend.value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Min(Lanes256 a, Lanes256 b) => new(Vector256.Min(a.value, b.value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Max(Lanes256 a, Lanes256 b) => new(Vector256.Max(a.value, b.value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Round(Lanes256 value) => new(Vector256.Round(value.value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 PowerOfTwo(Lanes256 wholeNumbers) => new(((Vector256.ConvertToInt32(wholeNumbers.value) + Vector256.Create(127)) << 23).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 Step(Lanes256 value) => new(Vector256.ConditionalSelect(Vector256.GreaterThan(value.value, Vector256<float>.Zero), Vector256<float>.One, Vector256<float>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 operator +(Lanes256 a, Lanes256 b) => new(a.value + b.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 operator -(Lanes256 a, Lanes256 b) => new(a.value - b.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 operator -(Lanes256 value) => new(-value.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 operator *(Lanes256 a, Lanes256 b) => new(a.value * b.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256 operator /(Lanes256 a, Lanes256 b) => new(a.value / b.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* destination) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddTo(double* sums)
    {
        var (lower, upper) = Vector256.Widen(value);
        (Vector256.Load(sums) + lower).Store(sums);
        (Vector256.Load(sums + Vector256<double>.Count) + upper).Store(sums + Vector256<double>.Count);
    }
}

/// <summary>Sixteen floats (AVX-512).</summary>
internal readonly unsafe struct Lanes512(Vector512<float> value) : ILanes<Lanes512>
{
    private readonly Vector512<float> value = value;

    public static int Count => Vector512<float>.Count;
    public static Lanes512 Zero => new(Vector512<float>.Zero);
    public static Lanes512 One => new(Vector512<float>.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Load(float* source) => new(Vector512.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Create(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 FusedMultiplyAdd(Lanes512 a, Lanes512 b, Lanes512 addend) => new(Vector512.FusedMultiplyAdd(a.value, b.value, addend.value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Min(Lanes512 a, Lanes512 b) => new(Vector512.Min(a.value, b.value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Max(Lanes512 a, Lanes512 b) => new(Vector512.Max(a.value, b.value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Round(Lanes512 value) => new(Vector512.Round(value.value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 PowerOfTwo(Lanes512 wholeNumbers) => new(((Vector512.ConvertToInt32(wholeNumbers.value) + Vector512.Create(127)) << 23).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 Step(Lanes512 value) => new(Vector512.ConditionalSelect(Vector512.GreaterThan(value.value, Vector512<float>.Zero), Vector512<float>.One, Vector512<float>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 operator +(Lanes512 a, Lanes512 b) => new(a.value + b.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 operator -(Lanes512 a, Lanes512 b) => new(a.value - b.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 operator -(Lanes512 value) => new(-value.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 operator *(Lanes512 a, Lanes512 b) => new(a.value * b.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512 operator /(Lanes512 a, Lanes512 b) => new(a.value / b.value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* destination) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddTo(double* sums)
    {
        var (lower, upper) = Vector512.Widen(value);
        (Vector512.Load(sums) + lower).Store(sums);
        (Vector512.Load(sums + Vector512<double>.Count) + upper).Store(sums + Vector512<double>.Count);
    }
}
