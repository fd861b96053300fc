using static TorchSharp.torch;

namespace LieConv.Runtime;

/// <summary>
/// Uniform random k-subsets of each row's flagged slots, drawn on the CPU by a partial Fisher–Yates shuffle: k
/// bounded draws per (cloud, row) instead of a draw per slot and a top-k ranking.
/// </summary>
/// <remarks>
/// Each (cloud, row) takes its numbers from its own SplitMix64 stream, keyed by the call's seed, the cloud and the row's
/// place in the whole request, so the result depends on nothing else (not on blocking or threads). One thread: the
/// loop is a few milliseconds a layer, and libtorch's OpenMP threads spin on the second core after each operation.
/// </remarks>
internal static unsafe class UniformSubsets
{
    /// <summary>
    /// (B, rows, k) slots and whether each is flagged: for each of <paramref name="batch"/> clouds and each row of
    /// <paramref name="flags"/> (1 or B, rows, c), a uniform random subset of min(k, flagged) of its flagged slots, the
    /// rest of the row filled with unflagged slots. See <see cref="RandomSource.ChooseSubsets"/>.
    /// </summary>
    /// <remarks>The caller has checked the shapes: (1 or B, rows, c) flags with c ≥ k.</remarks>
    public static (Tensor Slots, Tensor Flagged) Choose(long batch, Tensor flags, long rowOffset, long k, long seed)
    {
        using var rowFlags = flags.to(ScalarType.Bool).contiguous();
        long groups = rowFlags.shape[0], rows = rowFlags.shape[1], c = rowFlags.shape[2];
        var slots = empty(new[] { batch, rows, k }, dtype: ScalarType.Int64);
        var flagged = empty(new[] { batch, rows, k }, dtype: ScalarType.Bool);
        bool* source = (bool*)TensorData.Of(rowFlags);
        long* slot = (long*)TensorData.Of(slots);
        bool* chosen = (bool*)TensorData.Of(flagged);
        var flaggedSlots = new long[c];
        var unflaggedSlots = new long[c];
        var shuffled = new long[c];
        for (long row = 0; row < rows; row++)
        {
            int inside = 0, outside = 0;
            for (long b = 0; b < batch; b++)
            {
                if (b == 0 || groups > 1)
                {
                    bool* rowSource = source + ((groups > 1 ? b : 0) * rows + row) * c;
                    inside = outside = 0;
                    for (int j = 0; j < c; j++)
                    {
                        if (rowSource[j]) flaggedSlots[inside++] = j;
                        else unflaggedSlots[outside++] = j;
                    }
                }
                long* rowSlots = slot + (b * rows + row) * k;
                bool* rowChosen = chosen + (b * rows + row) * k;
                if (inside <= k)
                {
                    // The whole ball, then slots outside it (c ≥ k leaves enough of them).
                    for (int j = 0; j < inside; j++) { rowSlots[j] = flaggedSlots[j]; rowChosen[j] = true; }
                    for (int j = inside; j < k; j++) { rowSlots[j] = unflaggedSlots[j - inside]; rowChosen[j] = false; }
                    continue;
                }
                ulong state = SplitMix64.Mix(SplitMix64.Mix((ulong)seed ^ (ulong)b * SplitMix64.Gamma) ^ (ulong)(rowOffset + row));
                Array.Copy(flaggedSlots, shuffled, inside);
                for (int j = 0; j < k; j++)
                {
                    // Slot j takes a uniform one of those not yet taken (Lemire's multiply-shift: bias below 2⁻⁵⁰).
                    int pick = j + (int)Math.BigMul(SplitMix64.Next(ref state), (ulong)(inside - j), out _);
                    (shuffled[j], shuffled[pick]) = (shuffled[pick], shuffled[j]);
                    rowSlots[j] = shuffled[j];
                    rowChosen[j] = true;
                }
            }
        }
        GC.KeepAlive(rowFlags);
        GC.KeepAlive(slots);
        GC.KeepAlive(flagged);
        return (slots, flagged);
    }
}
