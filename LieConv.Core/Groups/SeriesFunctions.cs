using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Groups;

/// <summary>
/// The sinc family used by the closed-form exponentials and logarithms (reference §1.2).
/// Each function switches to its Taylor series for |x| &lt; <see cref="TaylorThreshold"/>.
/// </summary>
/// <remarks>
/// The original evaluates both branches on the raw argument and selects one, so the closed form's 0/0 at x = 0
/// poisons gradients with NaN even though the Taylor branch was selected (reference §7.3). Here the closed form
/// is evaluated on a substitute argument (1) wherever the Taylor branch is taken, so both branches are finite
/// and the gradient of the selected one is exact.
/// <para>sinc, x/sin x, cosc = ½·sinc²(x/2) and (x/2)cot(x/2) = cos(x/2)/sinc(x/2) have no cancellation, so they
/// are built on sin x / x in the input's precision, without a series (they run on every pair of a layer).
/// (x − sin x)/x³ and the coscc formula cancel inherently: in float32 they would lose up to 1e-4 just above
/// the switch, so lower-precision inputs are evaluated in float64 and rounded back (they appear only in SE(3)'s V
/// and V⁻¹).</para>
/// </remarks>
public static class SeriesFunctions
{
    /// <summary>Below this |x| the Taylor branch is used (0.07, as in the original).</summary>
    public const double TaylorThreshold = 0.07;

    /// <summary>sin x / x: 1 at 0, with a zero gradient there.</summary>
    /// <remarks>
    /// sin s / s on s = x with its zeros replaced by 1, and 1 put back at the zeros: both branches are finite, so the
    /// gradient at 0 is exact (0) rather than NaN; near 0 it cancels (cos x / x − sin x / x²), as libtorch's own
    /// sinc's does. Not libtorch's sinc: on the CPU that is scalar code (no vector path), and these vector passes take
    /// a third of its time (5 M floats, two threads: 11–17 against 34–44 ms) on the millions of candidate pairs an
    /// SE(2) ball search measures.
    /// </remarks>
    public static Tensor Sinc(Tensor x)
    {
        var zero = x.eq(0);
        var safe = where(zero, 1, x);
        return where(zero, 1, safe.sin() / safe);
    }

    /// <summary>(x − sin x) / x³.</summary>
    public static Tensor Sincc(Tensor x) => Branch(x, inFloat64: true,
        closed: s => (s - s.sin()) / s.pow(3),
        taylor: x2 => (1 - x2 / 20 * (1 - x2 / 42 * (1 - x2 / 72))) / 6);

    /// <summary>(1 − cos x) / x², as ½·sinc²(x/2), which has no cancellation.</summary>
    public static Tensor Cosc(Tensor x) => Sinc(x / 2).square() / 2;

    /// <summary>(1 − x·sin x / (2(1 − cos x))) / x², the coefficient of K² in the SE(3) V⁻¹.</summary>
    /// <remarks>The denominator is clamped at 1e-6 as in the original; it matters only far from the principal range.</remarks>
    public static Tensor Coscc(Tensor x) => Branch(x, inFloat64: true,
        closed: s => (1 - s * s.sin() / (2 * (1 - s.cos())).clamp_min(1e-6)) / s.square(),
        taylor: x2 => (1 + x2 / 60 * (1 + x2 / 42 * (1 + x2 / 40))) / 12);

    /// <summary>x / sin x, as 1 / sinc x (the original's series stopped at x⁴, a 2e-10 step at its switch).</summary>
    public static Tensor SincInverse(Tensor x) => Sinc(x).reciprocal();

    /// <summary>(x/2)·cot(x/2) = sinc x / (2·cosc x), the coefficient of I in the SE(2) V⁻¹, as cos(x/2) / sinc(x/2).</summary>
    public static Tensor HalfAngleCotangent(Tensor x) => (x / 2).cos() / Sinc(x / 2);

    private static Tensor Branch(Tensor x, bool inFloat64, Func<Tensor, Tensor> closed, Func<Tensor, Tensor> taylor)
    {
        var precise = !inFloat64 || x.dtype == ScalarType.Float64 ? x : x.to(ScalarType.Float64);
        var small = precise.abs() < TaylorThreshold;
        var safe = where(small, ones_like(precise), precise);
        var result = where(small, taylor(precise.square()), closed(safe));
        return result.dtype == x.dtype ? result : result.to(x.dtype);
    }
}
