using LieConv.Groups;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>The neighbours chosen for each query point of a layer.</summary>
/// <param name="Indices">(B, m, k) indices of the neighbours among the layer's input points.</param>
/// <param name="Valid">(B, m, k) whether each chosen neighbour really belongs to the neighbourhood.</param>
/// <param name="InBallCount">(B, m) points inside the ball of each query (ball mode), for the radius update.</param>
public sealed record Neighbourhood(Tensor Indices, Tensor Valid, Tensor? InBallCount);

/// <summary>
/// Neighbourhood selection (reference §2.3): a uniform random subset of the points within the layer's radius
/// (ball mode), or the k nearest points (kNN mode), by the group distance.
/// </summary>
/// <remarks>
/// Distances are computed for a block of query rows at a time and only the chosen indices are kept, so memory
/// grows with N·k instead of N² (the original materialises all (B, N, N, D) pair features).
/// </remarks>
public static class Neighbourhoods
{
    /// <summary>Pair features computed per block of query rows, across the batch.</summary>
    public const long PairsPerBlock = 1L << 19;

    /// <summary>Distance given to padding columns so that they are never nearer than a real point.</summary>
    private const double Far = 1e8;

    /// <summary>Chooses up to <paramref name="k"/> neighbours of each query among the points of <paramref name="cloud"/>.</summary>
    /// <param name="group">The group whose distance ranks neighbours.</param>
    /// <param name="cloud">The layer's input points (B, n).</param>
    /// <param name="queries">The query points (B, m), a subset of <paramref name="cloud"/>.</param>
    /// <param name="k">Neighbourhood size; capped at n.</param>
    /// <param name="radius">Ball radius (0-d tensor); null selects the k nearest points instead.</param>
    /// <param name="random">Noise for the uniform choice inside a ball.</param>
    public static Neighbourhood Select(LieGroup group, LiftedCloud cloud, LiftedCloud queries, long k, Tensor? radius, RandomSource random)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long batch = cloud.BatchSize, n = cloud.PointCount, m = queries.PointCount;
        k = Math.Min(k, n);
        long block = Math.Clamp(PairsPerBlock / Math.Max(1, batch * n), 1, Math.Max(1, m));
        var columns = cloud.Mask.unsqueeze(1);                                        // (B, 1, n)

        var indices = new List<Tensor>();
        var valid = new List<Tensor>();
        var inBall = new List<Tensor>();
        for (long start = 0; start < m; start += block)
        {
            // Each block's temporaries are freed before the next block: without this scope they would pile up to N².
            using var blockScope = NewDisposeScope();
            long rows = Math.Min(block, m - start);
            var queryMask = queries.Mask.narrow(1, start, rows).unsqueeze(-1);          // (B, rows, 1)
            var distance = group.BlockDistance(
                queries.Elements.narrow(1, start, rows), queries.Orbits.narrow(1, start, rows), cloud.Elements, cloud.Orbits);
            if (radius is null)
            {
                var (_, nearest) = distance.masked_fill_(columns.logical_not(), Far).topk((int)k, dim: -1, largest: false);
                indices.Add(nearest.MoveToOuterDisposeScope());
                valid.Add((cloud.Mask.unsqueeze(1).expand(batch, rows, n).gather(-1, nearest) & queryMask).MoveToOuterDisposeScope());
            }
            else
            {
                var inside = (distance < radius).logical_and_(columns).logical_and_(queryMask);
                // A uniform random subset of the ball: in-ball points score 1 + U(0, 1), others U(0, 1).
                var score = random.Uniform(new[] { batch, rows, n }, distance.dtype, distance.device, new[] { 0L, start, 0L }).add_(inside);
                (score, var chosen) = score.topk((int)k, dim: -1);
                indices.Add(chosen.MoveToOuterDisposeScope());
                valid.Add((score >= 1).MoveToOuterDisposeScope());   // U(0, 1) can be 0, and 1 + U can round to 1
                inBall.Add(inside.sum(-1).MoveToOuterDisposeScope());
            }
        }
        return new Neighbourhood(
            cat(indices, 1).MoveToOuterDisposeScope(),
            cat(valid, 1).MoveToOuterDisposeScope(),
            radius is null ? null : cat(inBall, 1).MoveToOuterDisposeScope());
    }
}
