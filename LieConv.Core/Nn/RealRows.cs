using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// The real points of a padded batch, as rows of the batch flattened to (B·n), so that point-wise layers and the
/// convolution's dense layer run on real points only (molecules padded to the largest in their batch are about a
/// third padding).
/// </summary>
/// <remarks>
/// Padding's outputs are never read: batch norm, neighbourhoods and pooling all go by the mask. The original computes
/// them anyway; here they are left at zero. Finding the rows reads the mask on the host, so it is done on the CPU
/// only: on a GPU the batch stays dense rather than wait for the host in every layer.
/// </remarks>
internal sealed class RealRows
{
    private readonly long _batch;
    private readonly long _points;

    private RealRows(Tensor rows, long batch, long points)
    {
        Rows = rows;
        _batch = batch;
        _points = points;
    }

    /// <summary>Whether padding is skipped (off: every layer runs on the dense batch, as on a GPU; for tests).</summary>
    internal static bool SkipPadding { get; set; } = true;

    /// <summary>(R) indices of the real points among the B·n rows.</summary>
    public Tensor Rows { get; }

    /// <summary>Number of real points.</summary>
    public long Count => Rows.shape[0];

    /// <summary>
    /// The real rows of <paramref name="batch"/> clouds with <paramref name="mask"/> (B or 1, n), or null when there
    /// is no padding or the mask is not on the CPU (the dense batch is used as it is).
    /// </summary>
    public static RealRows? Of(Tensor mask, long batch)
    {
        if (!SkipPadding || !HostReads.AreFree(mask)) return null;
        var everyCloud = mask.expand(batch, mask.shape[1]);
        var rows = HostReads.TrueIndices(everyCloud, "the real points of a padded batch");
        return rows.shape[0] == batch * mask.shape[1] ? null : new RealRows(rows, batch, mask.shape[1]);
    }

    /// <summary>(R) an all-true mask of the real rows, for layers that take one.</summary>
    public Tensor Mask => ones(Count, dtype: ScalarType.Bool, device: Rows.device);

    /// <summary>(R, …) the real rows of <paramref name="values"/> (B, n, …).</summary>
    public Tensor Pack(Tensor values) => values.flatten(0, 1).index_select(0, Rows);

    /// <summary>(B, n, …) the rows <paramref name="packed"/> (R, …) back in place, zero at the padding.</summary>
    public Tensor Unpack(Tensor packed)
    {
        var trailing = packed.shape[1..];
        return zeros(new[] { _batch * _points }.Concat(trailing).ToArray(), dtype: packed.dtype, device: packed.device)
            .index_copy(0, Rows, packed)
            .view(new[] { _batch, _points }.Concat(trailing).ToArray());
    }
}
