using LieConv.Groups;
using LieConv.Runtime;
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
/// When every cloud of the batch has the same points (a fixed image grid with a deterministic lift), the
/// elements, orbits and mask are held once, with batch size 1, and layers compute what depends only on the
/// points once for the whole batch (<see cref="SharesGeometry"/>).
/// </remarks>
/// <param name="Elements">(B or 1, N, LieDim) Lie-algebra coordinates of each lifted point.</param>
/// <param name="Orbits">(B or 1, N, QDim) orbit identifiers.</param>
/// <param name="Values">(B, N, C) features.</param>
/// <param name="Mask">(B or 1, N) bool, true for real points.</param>
public sealed record LiftedCloud(Tensor Elements, Tensor Orbits, Tensor Values, Tensor Mask)
{
    /// <summary>Number of clouds in the batch.</summary>
    public long BatchSize => Values.shape[0];

    /// <summary>Number of (possibly padded) points per cloud.</summary>
    public long PointCount => Values.shape[1];

    /// <summary>
    /// The k-nearest-neighbour neighbourhoods of these points, kept by a layer that searched them so that the next
    /// layer on the same points (no subsampling in between) does not search again; dropped when the points change.
    /// </summary>
    public NearestNeighbours? Nearest { get; init; }

    /// <summary>
    /// The group distances between every pair of these points, kept by a ball layer that computed them so that the
    /// next ball layers on the same points (no subsampling in between) only compare them with their own radius;
    /// dropped when the points change.
    /// </summary>
    public PairDistances? Distances { get; init; }

    /// <summary>Whether every cloud of the batch has the same points and mask, held once with batch size 1.</summary>
    public bool SharesGeometry => BatchSize > 1 && Elements.shape[0] == 1 && Orbits.shape[0] == 1 && Mask.shape[0] == 1;

    /// <summary>The same cloud with its elements, orbits and mask spelled out for every cloud (views, no copy).</summary>
    public LiftedCloud PerCloud()
    {
        long batch = BatchSize;
        Tensor Expand(Tensor t) => t.shape[0] == batch ? t : t.expand(new[] { batch }.Concat(t.shape[1..]).ToArray());
        return new LiftedCloud(Expand(Elements), Expand(Orbits), Values, Expand(Mask));
    }

    /// <summary>Lifts point clouds: coordinates (B, n, d), values (B, n, c) and mask (B, n) become ns lifted points each.</summary>
    /// <remarks>
    /// Padding rows are zeroed first, so whatever they held (NaN padding included) cannot reach a real point. When
    /// every cloud has the same points and mask (images as point sets) and the lift draws nothing, the points are
    /// lifted once and held with batch size 1 (<see cref="SharesGeometry"/>) — unless gradients flow to the
    /// coordinates. That is checked on the CPU only: on a GPU the check would cost a host synchronisation in every
    /// step.
    /// </remarks>
    public static LiftedCloud Lift(LieGroup group, Tensor coordinates, Tensor values, Tensor mask, int liftSamples, Runtime.RandomSource? random)
    {
        var real = mask.unsqueeze(-1);
        coordinates = where(real, coordinates, zeros_like(coordinates));
        values = where(real, values, zeros_like(values));
        // Not when gradients flow to the coordinates (Hamiltonian networks differentiate by the positions): each
        // cloud must keep its own.
        if (coordinates.shape[0] > 1 && !group.HasRandomLift && HostReads.AreFree(coordinates)
            && !coordinates.requires_grad && SameForEveryCloud(mask) && SameForEveryCloud(coordinates))
        {
            coordinates = coordinates.narrow(0, 0, 1);
            mask = mask.narrow(0, 0, 1);
        }
        var lifted = group.Lift(coordinates, liftSamples, random);
        return new LiftedCloud(lifted.Elements, lifted.Orbits,
            values.repeat_interleave(lifted.LiftSamples, dim: 1), mask.repeat_interleave(lifted.LiftSamples, dim: 1));
    }

    /// <summary>Whether every cloud's slice (axis 0) of <paramref name="t"/> equals the first's (read on the host).</summary>
    internal static bool SameForEveryCloud(Tensor t) => HostReads.Item<bool>((t == t.narrow(0, 0, 1)).all(), "whether every cloud holds the same points");

    /// <summary>The same cloud with other features.</summary>
    public LiftedCloud WithValues(Tensor values) => this with { Values = values };

    /// <summary>Every tensor the cloud holds, what it keeps for later layers included.</summary>
    internal IEnumerable<Tensor> Tensors() =>
        new[] { Elements, Orbits, Values, Mask }
            .Concat(Nearest?.Neighbourhood.Tensors() ?? [])
            .Concat(Distances is { } kept ? [kept.Values] : []);

    /// <summary>The points at <paramref name="indices"/> (B, m) — or (1, m), shared by every cloud.</summary>
    public LiftedCloud Select(Tensor indices)
    {
        var cloud = indices.shape[0] == 1 ? this : PerCloud();
        return new(Gather(cloud.Elements, indices), Gather(cloud.Orbits, indices), Gather(Values, indices), Gather(cloud.Mask, indices));
    }

    /// <summary>
    /// Rows of <paramref name="source"/> (B, n, …) at <paramref name="indices"/> (B or 1, m, …) along axis 1; a
    /// source with batch size 1 (shared by every cloud) is read with indices of any batch size.
    /// </summary>
    /// <remarks>
    /// Done as one index_select of whole rows from the batch flattened to (B·n, …): a row copy forward and a row
    /// accumulation backward, several times faster on CPU than gather/scatter_add with an index expanded over
    /// the feature axis.
    /// </remarks>
    public static Tensor Gather(Tensor source, Tensor indices)
    {
        var rows = RowIndices(source, indices);
        var trailing = source.shape[2..];
        return source.reshape(new[] { source.shape[0] * source.shape[1] }.Concat(trailing).ToArray())
            .index_select(0, rows.flatten()).view(rows.shape.Concat(trailing).ToArray());
    }

    /// <summary>
    /// (B, m, …) the positions in <paramref name="source"/> (B, n, …) flattened to (B·n, …) of the rows at
    /// <paramref name="indices"/> (B or 1, m, …) along axis 1 (see <see cref="Gather"/>).
    /// </summary>
    internal static Tensor RowIndices(Tensor source, Tensor indices)
    {
        long batch = source.shape[0], n = source.shape[1];
        if (batch == 1) return indices;
        var index = indices.shape[0] == batch ? indices : indices.expand(new[] { batch }.Concat(indices.shape[1..]).ToArray());
        var offsets = arange(batch, dtype: ScalarType.Int64, device: index.device).mul_(n)
            .view(new[] { batch }.Concat(Enumerable.Repeat(1L, (int)index.dim() - 1)).ToArray());
        return index + offsets;
    }
}

/// <summary>(B, n, n) the distances under <paramref name="Group"/> between every pair of a cloud's points.</summary>
public sealed record PairDistances(LieGroup Group, Tensor Values);

/// <summary>The <paramref name="K"/> nearest neighbours of every point of a cloud under <paramref name="Group"/>'s distance.</summary>
public sealed record NearestNeighbours(LieGroup Group, long K, Neighbourhood Neighbourhood);
