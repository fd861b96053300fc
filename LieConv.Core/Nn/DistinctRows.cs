using System.Buffers;
using System.Runtime.CompilerServices;
using TorchSharp;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// The distinct rows of a CPU tensor (N, D), equal bit for bit, in order of first appearance, with the distinct row
/// that each input row is: what libtorch's <c>unique(dim: 0, return_inverse: true)</c> gives, by a hash table instead
/// of a comparison sort of the rows (that took 250 ms for the 100k pair features of a RotMNIST T(2) step; this, 3 ms).
/// </summary>
internal static unsafe class DistinctRows
{
    private static long found;

    /// <summary>How many searches found few enough distinct rows in this process (tests tell the routes apart by it).</summary>
    public static long Found => Interlocked.Read(ref found);

    /// <summary>
    /// (U, D) the distinct rows of <paramref name="rows"/> (N, D: float32 or float64, on the CPU) and (N) which of them
    /// each row is; null as soon as more than <paramref name="mostDistinct"/>·N rows turn out distinct, when
    /// computing on the distinct rows would save too little.
    /// </summary>
    /// <exception cref="ArgumentException">The rows are not a 2-d float CPU tensor.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (Tensor Distinct, Tensor Inverse)? Find(Tensor rows, double mostDistinct = 1)
    {
        if (rows.dim() != 2 || rows.dtype is not (ScalarType.Float32 or ScalarType.Float64) || rows.device_type != DeviceType.CPU)
            throw new ArgumentException($"Rows must be a 2-d float CPU tensor; got {rows.dtype} ({string.Join(", ", rows.shape)}) on {rows.device}.", nameof(rows));
        using var contiguous = rows.contiguous();
        long count = rows.shape[0], limit = (long)Math.Floor(mostDistinct * count);
        int words = (int)(rows.shape[1] * rows.element_size() / sizeof(uint));   // each row compared as 32-bit words
        var inverse = empty(count, dtype: ScalarType.Int64);
        long* distinctOf = (long*)TensorData.Of(inverse);
        uint* data = (uint*)TensorData.Of(contiguous);
        // Open addressing in a power-of-two table at most half full; a slot holds the first row of its value, plus 1.
        int size = (int)Math.Max(16, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(1, count) * 2));
        var slots = ArrayPool<long>.Shared.Rent(size);
        Array.Clear(slots, 0, size);
        var firsts = new List<long>();
        try
        {
            for (long i = 0; i < count; i++)
            {
                uint* row = data + i * words;
                ulong hash = 0;
                for (int w = 0; w < words; w++) hash = SplitMix64.Mix(hash ^ row[w]);   // every bit of a row moves every bit of its slot
                for (long slot = (long)(hash & (ulong)(size - 1)); ; slot = (slot + 1) & (size - 1))
                {
                    long first = slots[slot] - 1;
                    if (first < 0)
                    {
                        if (firsts.Count == limit) return null;
                        slots[slot] = i + 1;
                        distinctOf[i] = firsts.Count;
                        firsts.Add(i);
                        break;
                    }
                    if (new ReadOnlySpan<uint>(data + first * words, words).SequenceEqual(new ReadOnlySpan<uint>(row, words)))
                    {
                        distinctOf[i] = distinctOf[first];
                        break;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<long>.Shared.Return(slots);
            GC.KeepAlive(contiguous);
            GC.KeepAlive(inverse);
        }
        Interlocked.Increment(ref found);
        return (rows.index_select(0, tensor(firsts.ToArray(), dtype: ScalarType.Int64)), inverse);
    }
}
