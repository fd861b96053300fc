using System.Numerics;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// Σ of rows by index: (count, C) zeros with row i of the rows added at row index[i] — libtorch's <c>index_add_</c>,
/// the backward pass of every neighbour gather — written as one pass over the rows on the CPU.
/// </summary>
/// <remarks>
/// libtorch 2.10 adds rows of 16 or more channels by sorting the indices first (a radix sort of every pair's index,
/// then a scatter in sorted order), each call: 11–16 ms for RotMNIST's first layer (405k rows of 32 channels into
/// 16,200), against 4–7 ms for this loop. The sums run in the rows' order on one thread, so each destination row adds
/// its contributions in the same order as libtorch's stable sort does: the same floats. Two threads split by
/// destination were slower on two cores: libtorch's OpenMP threads spin on the second core after each operation.
/// On a GPU, for other element types, and where the sum must itself be differentiable (its graph recorded), libtorch's
/// operation does it.
/// </remarks>
internal static unsafe class IndexedRowSum
{
    private static long loops;

    /// <summary>How many sums the loop did in this process (tests tell the routes apart by it).</summary>
    public static long Loops => Interlocked.Read(ref loops);

    /// <summary>
    /// (count, C): zeros with each row of <paramref name="rows"/> (M, C) added at its row of
    /// <paramref name="index"/> (M, int64).
    /// </summary>
    /// <exception cref="IndexOutOfRangeException">An index lies outside [0, count).</exception>
    public static Tensor Compute(long count, Tensor index, Tensor rows)
    {
        var sum = zeros(new[] { count, rows.shape[1] }, dtype: rows.dtype, device: rows.device);
        if (!TakesLoop(index, rows)) return sum.index_add_(0, index, rows, 1);
        using var contiguousRows = rows.contiguous();
        using var contiguousIndex = index.contiguous();
        if (rows.dtype == ScalarType.Float32) Add<float>(sum, contiguousIndex, contiguousRows);
        else Add<double>(sum, contiguousIndex, contiguousRows);
        Interlocked.Increment(ref loops);
        return sum;
    }

    private static bool TakesLoop(Tensor index, Tensor rows) =>
        HostReads.AreFree(rows) && index.dtype == ScalarType.Int64 && rows.dtype is ScalarType.Float32 or ScalarType.Float64
        && !(is_grad_enabled() && rows.requires_grad);

    private static void Add<T>(Tensor sum, Tensor index, Tensor rows) where T : unmanaged, INumber<T>
    {
        long count = sum.shape[0], pairs = index.shape[0];
        int channels = (int)sum.shape[1];
        T* target = (T*)TensorData.Of(sum);
        T* source = (T*)TensorData.Of(rows);
        long* at = (long*)TensorData.Of(index);
        int width = Vector<T>.Count;
        for (long i = 0; i < pairs; i++, source += channels)
        {
            long row = at[i];
            if ((ulong)row >= (ulong)count)
                throw new IndexOutOfRangeException($"Row {i} is to be added at row {row}, outside the {count} rows of the sum.");
            T* destination = target + row * channels;
            int c = 0;
            for (; c + width <= channels; c += width)
                *(Vector<T>*)(destination + c) += *(Vector<T>*)(source + c);
            for (; c < channels; c++) destination[c] += source[c];
        }
        GC.KeepAlive(sum);
        GC.KeepAlive(rows);
        GC.KeepAlive(index);
    }
}
