using System.Runtime.CompilerServices;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Groups;

/// <summary>
/// Ball candidates tested on the CPU without forming pair tensors: RotMNIST SE(2) tests 12.8 M candidates a step, and
/// as tensor operations each one gathers its coordinates and goes through a dozen passes over (B, r, c) tensors.
/// </summary>
/// <remarks>
/// A search is tested against exact balls, so every answer must be the tensor formula's to the bit. Two passes over
/// the candidates with libtorch's square root between them: the gaps' squares, then the angle and the distance. The
/// square root is libtorch's own, run on those squares, because its float square root is not the correctly rounded one
/// (MKL's vector function: about one pair in 160 differs in the last bit from the processor's). Everything else is
/// repeated operation by operation in float, sinf included, which libtorch and .NET take from the same C library.
/// </remarks>
public sealed partial class SE2
{
    /// <summary>Whether ball candidates are tested by the CPU passes below (tests compare with the tensor operations).</summary>
    internal static bool CandidatePass { get; set; } = true;

    /// <summary>
    /// Candidates whose distance a double-precision estimate puts within this fraction of the radius are settled by the
    /// float formula itself; the estimate and the formula differ by a few float roundings (a few parts in 10⁷).
    /// </summary>
    private const double Undecided = 1e-5;

    /// <inheritdoc />
    /// <remarks>
    /// Most candidates are decided by an estimate of their distance in double — the formula's own wrapped angle and
    /// gap, sinc(θ/2) by its Taylor series to within 10⁻⁹ — that is more than <see cref="Undecided"/> of the radius
    /// away from it, where the float formula cannot land on the other side; the rest take the float formula, with
    /// sinf. Same flags as comparing the formula's distances, for a tenth of sinf's calls.
    /// </remarks>
    internal override unsafe Tensor? CandidatesWithinRadius(Tensor queries, Tensor points, Tensor candidates, Tensor counts, Tensor radius)
    {
        if (!HostReads.AreFree(radius) || Gaps(queries, points, candidates, counts) is not { } gaps) return null;
        float limit = HostReads.Item<float>(radius, "the ball radius");
        double inside = limit * (1 - Undecided), outside = limit * (1 + Undecided);
        var flags = zeros(gaps.Tensor.shape, ScalarType.Bool);
        byte* flagData = (byte*)TensorData.Of(flags);
        float alpha = (float)Alpha, rest = (float)(1 - Alpha);
        gaps.EachRow((row, slot, real, query, cloud, gap) =>
        {
            byte* flag = flagData + row * gaps.Width;
            for (long s = 0; s < real; s++)
            {
                float wrapped = WrapAngleInFloat(query[0] - cloud[slot[s] * 3]);
                double estimate = alpha * (double)MathF.Abs(wrapped) + rest * (double)gap[s] / SincSeries((double)wrapped / 2);
                bool within = estimate < inside || (estimate <= outside && DistanceInFloat(wrapped, gap[s], alpha, rest) < limit);
                flag[s] = within ? (byte)1 : (byte)0;
            }
        });
        gaps.Release();
        return flags;
    }

    /// <summary>
    /// (B, r, c) <see cref="CoordinatePairDistance"/> of every real candidate, +∞ past each row's count, to the bit; null
    /// where the passes do not apply (see <see cref="CandidatesWithinRadius"/>).
    /// </summary>
    internal unsafe Tensor? CandidateDistances(Tensor queries, Tensor points, Tensor candidates, Tensor counts)
    {
        if (Gaps(queries, points, candidates, counts) is not { } gaps) return null;
        float alpha = (float)Alpha, rest = (float)(1 - Alpha);
        gaps.EachRow((row, slot, real, query, cloud, gap) =>
        {
            for (long s = 0; s < real; s++)
                gap[s] = DistanceInFloat(WrapAngleInFloat(query[0] - cloud[slot[s] * 3]), gap[s], alpha, rest);
        });
        gaps.Release();
        return gaps.Tensor;
    }

    /// <summary>The first pass: ‖t_u − t_v‖ of every real candidate, as the formula forms it; null for other tensors.</summary>
    private static unsafe CandidateGaps? Gaps(Tensor queries, Tensor points, Tensor candidates, Tensor counts)
    {
        if (!CandidatePass || queries.dtype != ScalarType.Float32 || points.dtype != ScalarType.Float32
            || candidates.dtype != ScalarType.Int64 || counts.dtype != ScalarType.Int64
            || !HostReads.AreFree(queries) || !HostReads.AreFree(points) || !HostReads.AreFree(candidates) || !HostReads.AreFree(counts))
            return null;
        long batch = queries.shape[0], rows = queries.shape[1], c = candidates.shape[2], groups = candidates.shape[0];
        if (points.shape[0] != batch || queries.shape[2] != 3 || points.shape[2] != 3 || (groups != batch && groups != 1)
            || candidates.shape[1] != rows || counts.shape[0] != groups || counts.shape[1] != rows)
            return null;
        var gaps = new CandidateGaps(queries, points, candidates, counts);
        gaps.EachRow((row, slot, real, query, cloud, gap) =>
        {
            for (long s = 0; s < real; s++)
            {
                float* point = cloud + slot[s] * 3;
                float dx = query[1] - point[1], dy = query[2] - point[2];
                gap[s] = dx * dx + dy * dy;               // (x_u − x_v)² + (y_u − y_v)²
            }
        });
        gaps.Tensor.sqrt_();
        return gaps;
    }

    /// <summary>One row's candidates: its row among (B·r), the candidate indices, how many are real, the query's and its cloud's coordinates, its (B, r, c) row.</summary>
    private unsafe delegate void CandidateRow(long row, long* slot, long real, float* query, float* cloud, float* values);

    /// <summary>The tensors of a candidate test, held (contiguous) while the passes read them through pointers.</summary>
    private sealed unsafe class CandidateGaps
    {
        private readonly Tensor queries, points, candidates, counts;
        private readonly long rows, pointCount, groups;

        public CandidateGaps(Tensor queries, Tensor points, Tensor candidates, Tensor counts)
        {
            (this.queries, this.points, this.candidates, this.counts) = (queries.contiguous(), points.contiguous(), candidates.contiguous(), counts.contiguous());
            (rows, pointCount, groups) = (queries.shape[1], points.shape[1], candidates.shape[0]);
            Tensor = full(new[] { queries.shape[0], rows, candidates.shape[2] }, float.PositiveInfinity, ScalarType.Float32);
        }

        /// <summary>(B, r, c) the gaps, +∞ past each row's count (later the distances, where asked for).</summary>
        public Tensor Tensor { get; }

        /// <summary>c, the candidates of a row.</summary>
        public long Width => Tensor.shape[2];

        /// <summary>Runs <paramref name="body"/> on every (cloud, query) row, in bands on libtorch's number of threads.</summary>
        public void EachRow(CandidateRow body)
        {
            float* queryData = (float*)TensorData.Of(queries), pointData = (float*)TensorData.Of(points), valueData = (float*)TensorData.Of(Tensor);
            long* candidateData = (long*)TensorData.Of(candidates), countData = (long*)TensorData.Of(counts);
            long total = Tensor.shape[0] * rows, width = Width;
            int bands = (int)Math.Clamp(total / 64, 1, Math.Max(1, get_num_threads()));
            Parallel.For(0, bands, band =>
            {
                for (long row = total * band / bands, end = total * (band + 1) / bands; row < end; row++)
                {
                    long g = groups == 1 ? row % rows : row;   // the row in the candidates' (B or 1, r) layout
                    body(row, candidateData + g * width, Math.Min(countData[g], width), queryData + row * 3,
                        pointData + row / rows * pointCount * 3, valueData + row * width);
                }
            });
        }

        /// <summary>Lets the inputs go (the result tensor stays with the caller).</summary>
        public void Release()
        {
            GC.KeepAlive(queries); GC.KeepAlive(points); GC.KeepAlive(candidates); GC.KeepAlive(counts);
        }
    }

    /// <summary>
    /// <see cref="TensorMath.WrapAngle"/> in float, operation by operation: −((π − θ) mod 2π − π), the mod being
    /// libtorch's remainder (fmod, then into [0, 2π)), and 2π added below −π + 4·10⁻⁶. Double constants rounded to
    /// float, as libtorch does with scalars on float tensors.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float WrapAngleInFloat(float angleDifference)
    {
        const float pi = (float)Math.PI, twoPi = (float)(2 * Math.PI), wrapBelow = (float)(4e-6 - Math.PI);
        float a = pi - angleDifference;
        // fmod(a, 2π) is exact: a within (−2π, 2π), a − 2π within [2π, 4π) (exact by Sterbenz's lemma), else the C library's.
        float mod = a > -twoPi && a < twoPi ? a : a >= twoPi && a < 2 * twoPi ? a - twoPi : a % twoPi;
        if (mod < 0) mod += twoPi;
        float wrapped = -(mod - pi);
        return wrapped < wrapBelow ? wrapped + twoPi : wrapped;
    }

    /// <summary>
    /// α|θ| + (1 − α)·gap / sinc(θ/2) for a wrapped angle as <see cref="CoordinatePairDistance"/> computes it in float:
    /// libtorch's sinc, sin(πx)/(πx) for x = (θ/2)/π.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float DistanceInFloat(float wrapped, float gap, float alpha, float rest)
    {
        const float pi = (float)Math.PI;
        float x = wrapped / 2 / pi;
        float sinc = x == 0 ? 1f : MathF.Sin(pi * x) / (pi * x);
        return alpha * MathF.Abs(wrapped) + rest * gap / sinc;
    }

    /// <summary>sin y / y for |y| ≤ π/2 by its Taylor series to y¹² (the next term is below 4·10⁻¹⁰).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double SincSeries(double y)
    {
        double y2 = y * y;
        return 1 - y2 / 6 * (1 - y2 / 20 * (1 - y2 / 42 * (1 - y2 / 72 * (1 - y2 / 110 * (1 - y2 / 156)))));
    }
}
