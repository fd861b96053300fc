using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// Bands of rows for the C# passes over CPU tensors (<see cref="KernelNetworkPasses"/>):
/// one band per libtorch thread, each adding its per-channel sums in double into its own array.
/// </summary>
internal static unsafe class RowBands
{
    /// <summary>One band's work: rows [first, first + count), adding into <c>sums</c> (null when none are asked for).</summary>
    public delegate void Band(long first, long count, double* sums);

    /// <summary>Runs <paramref name="band"/> over bands of <paramref name="rows"/> and returns its <paramref name="sumCount"/> sums added across bands.</summary>
    public static double[] Run(long rows, int sumCount, Band band)
    {
        int bands = (int)Math.Clamp(rows / 1024, 1, Math.Max(1, get_num_threads()));
        var partials = new double[bands][];
        Parallel.For(0, bands, b =>
        {
            long first = rows * b / bands, last = rows * (b + 1) / bands;
            partials[b] = new double[sumCount];
            fixed (double* sums = partials[b]) band(first, last - first, sumCount == 0 ? null : sums);
        });
        var total = new double[sumCount];
        foreach (var partial in partials)
            for (int i = 0; i < sumCount; i++) total[i] += partial[i];
        return total;
    }
}
