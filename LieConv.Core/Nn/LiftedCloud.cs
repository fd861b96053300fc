using LieConv.Groups;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// A batch of point clouds lifted to a group, as it travels through a LieConv network: per point its group
/// element and orbit identifier (from which any pair's kernel input log(v⁻¹u) is computed on demand), its
/// feature vector, and whether it is a real point or padding.
/// </summary>
/// <remarks>
/// The original carries the dense (B, N, N, D) tensor of all pair features through the network instead; this
/// keeps O(B·N) per layer and computes pair features only for the (query, neighbour) pairs a layer uses.
/// </remarks>
/// <param name="Elements">(B, N, LieDim) Lie-algebra coordinates of each lifted point.</param>
/// <param name="Orbits">(B, N, QDim) orbit identifiers.</param>
/// <param name="Values">(B, N, C) features.</param>
/// <param name="Mask">(B, N) bool, true for real points.</param>
public sealed record LiftedCloud(Tensor Elements, Tensor Orbits, Tensor Values, Tensor Mask)
{
    /// <summary>Number of clouds in the batch.</summary>
    public long BatchSize => Values.shape[0];

    /// <summary>Number of (possibly padded) points per cloud.</summary>
    public long PointCount => Values.shape[1];

    /// <summary>Lifts point clouds: coordinates (B, n, d), values (B, n, c) and mask (B, n) become ns lifted points each.</summary>
    /// <remarks>Padding rows are zeroed first, so whatever they held (NaN padding included) cannot reach a real point.</remarks>
    public static LiftedCloud Lift(LieGroup group, Tensor coordinates, Tensor values, Tensor mask, int liftSamples, Runtime.RandomSource? random)
    {
        var real = mask.unsqueeze(-1);
        coordinates = where(real, coordinates, zeros_like(coordinates));
        values = where(real, values, zeros_like(values));
        var lifted = group.Lift(coordinates, liftSamples, random);
        return new LiftedCloud(lifted.Elements, lifted.Orbits,
            values.repeat_interleave(lifted.LiftSamples, dim: 1), mask.repeat_interleave(lifted.LiftSamples, dim: 1));
    }

    /// <summary>The same cloud with other features.</summary>
    public LiftedCloud WithValues(Tensor values) => this with { Values = values };

    /// <summary>The points at <paramref name="indices"/> (B, m) — or (1, m), shared by every cloud.</summary>
    public LiftedCloud Select(Tensor indices) => new(
        Gather(Elements, indices), Gather(Orbits, indices), Gather(Values, indices), Gather(Mask, indices));

    /// <summary>Rows of <paramref name="source"/> (B, n, …) at <paramref name="indices"/> (B or 1, m, …) along axis 1.</summary>
    /// <remarks>
    /// Done as one index_select of whole rows from the batch flattened to (B·n, …): a row copy forward and a row
    /// accumulation backward, several times faster on CPU than gather/scatter_add with an index expanded over
    /// the feature axis.
    /// </remarks>
    public static Tensor Gather(Tensor source, Tensor indices)
    {
        long batch = source.shape[0], n = source.shape[1];
        var trailing = source.shape[2..];
        var index = indices.shape[0] == batch ? indices : indices.expand(new[] { batch }.Concat(indices.shape[1..]).ToArray());
        var offsets = arange(batch, dtype: ScalarType.Int64, device: index.device).mul_(n)
            .view(new[] { batch }.Concat(Enumerable.Repeat(1L, (int)index.dim() - 1)).ToArray());
        var rows = source.reshape(new[] { batch * n }.Concat(trailing).ToArray()).index_select(0, (index + offsets).flatten());
        return rows.view(index.shape.Concat(trailing).ToArray());
    }
}
