using LieConv.Groups;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// The neighbours chosen for each query point of a layer: each query's <see cref="Candidates"/> and, when clouds
/// share their geometry, which of them each cloud took (<see cref="Choice"/>).
/// </summary>
/// <remarks>
/// When every cloud of a batch has the same points (a fixed image grid), the candidates of a query are the same
/// for every cloud, so anything that depends only on a (query, candidate) pair — its pair features and kernel
/// values — is computed once per pair instead of once per cloud; <see cref="PairUsage"/> says how often each
/// pair is used, which is what batch statistics over the used pairs need.
/// </remarks>
public sealed class Neighbourhood
{
    /// <summary>A neighbourhood over <paramref name="candidates"/>, of which each cloud takes those at <paramref name="choice"/> (null: all of them).</summary>
    /// <param name="candidates">(B or 1, m, c) indices of each query's candidate neighbours among the layer's input points; batch 1 when shared.</param>
    /// <param name="choice">(B, m, k) positions among the candidates of each cloud's neighbours, or null when the candidates are the neighbours.</param>
    /// <param name="valid">(B or 1, m, k) whether each chosen neighbour really belongs to the neighbourhood.</param>
    /// <param name="inBallCount">(B or 1, m) points inside the ball of each query (ball mode), for the radius update.</param>
    public Neighbourhood(Tensor candidates, Tensor? choice, Tensor valid, Tensor? inBallCount)
    {
        Candidates = candidates;
        Choice = choice;
        Valid = valid;
        InBallCount = inBallCount;
    }

    /// <summary>(B or 1, m, c) candidate neighbours of each query; batch 1 when every cloud shares them.</summary>
    public Tensor Candidates { get; }

    /// <summary>(B, m, k) positions of each cloud's neighbours among <see cref="Candidates"/>; null when all candidates are taken.</summary>
    public Tensor? Choice { get; }

    /// <summary>(B or 1, m, k) indices of the neighbours among the layer's input points (made on first use, in the caller's dispose scope).</summary>
    public Tensor Indices => _indices ??= Choice is null ? Candidates : Candidates.expand(Choice.shape[0], -1, -1).gather(-1, Choice);

    private Tensor? _indices;

    /// <summary>(B or 1, m, k) whether each chosen neighbour really belongs to the neighbourhood.</summary>
    public Tensor Valid { get; }

    /// <summary>(B or 1, m) points inside the ball of each query (ball mode), for the radius update.</summary>
    public Tensor? InBallCount { get; }

    /// <summary>
    /// (B or 1, m, c) how many valid neighbours of a batch of <paramref name="batchSize"/> clouds each (query,
    /// candidate) pair is: 0 or 1 per cloud, summed over the clouds that share it.
    /// </summary>
    public Tensor PairUsage(long batchSize, ScalarType dtype)
    {
        if (Choice is null)
        {
            var used = Valid.to(dtype);
            return Valid.shape[0] == batchSize ? used : used * (batchSize / Valid.shape[0]);
        }
        long m = Candidates.shape[1], c = Candidates.shape[2];
        var slot = Choice + arange(m, dtype: ScalarType.Int64, device: Choice.device).mul_(c).view(1, m, 1);
        return zeros(m * c, dtype: dtype, device: Choice.device)
            .index_add_(0, slot.flatten(), Valid.expand(Choice.shape).to(dtype).flatten(), 1)
            .view(1, m, c);
    }
}

/// <summary>
/// Neighbourhood selection (reference §2.3): a uniform random subset of the points within the layer's radius
/// (ball mode), or the k nearest points (kNN mode), by the group distance.
/// </summary>
/// <remarks>
/// Distances are computed for a block of query rows at a time and only the chosen indices are kept, so memory
/// grows with N·k instead of N² (the original materialises all (B, N, N, D) pair features). When clouds and
/// queries share their geometry (<see cref="LiftedCloud.SharesGeometry"/>), distances are computed once for the
/// batch; in ball mode each query's in-ball points become its candidates and every cloud draws its own uniform
/// subset of them, so the draws cover the ball instead of the whole cloud.
/// </remarks>
public static class Neighbourhoods
{
    /// <summary>Pair features computed per block of query rows, across the batch.</summary>
    public const long PairsPerBlock = 1L << 19;

    /// <summary>
    /// kNN searches over clouds of at least this many points use a spatial grid (linear in the cloud size) when the
    /// group's distance is Euclidean in some coordinates and the tensors are on the CPU. Smaller clouds, and CUDA,
    /// keep the all-pairs blocks: they are faster there, and the grid needs host-side sizes.
    /// </summary>
    public const long SpatialGridMinPoints = 4096;

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
        bool shared = cloud.SharesGeometry && queries.SharesGeometry;
        if (!shared)
        {
            cloud = cloud.PerCloud();
            queries = queries.PerCloud();
        }
        long batch = cloud.BatchSize, geometryBatch = cloud.Elements.shape[0], n = cloud.PointCount, m = queries.PointCount;
        k = Math.Min(k, n);
        long block = Math.Clamp(PairsPerBlock / Math.Max(1, geometryBatch * n), 1, Math.Max(1, m));
        var columns = cloud.Mask.unsqueeze(1);                                        // (B or 1, 1, n)
        if (radius is null && n >= SpatialGridMinPoints && cloud.Elements.device_type == TorchSharp.DeviceType.CPU
            && group.EuclideanCoordinates(cloud.Elements, cloud.Orbits) is { } points
            && group.EuclideanCoordinates(queries.Elements, queries.Orbits) is { } at
            && cloud.Mask.sum(1).min().item<long>() >= k)
        {
            var nearest = stack(Enumerable.Range(0, (int)geometryBatch)
                .Select(b => SpatialGrid.Nearest(points.Coordinates[b], cloud.Mask[b], at.Coordinates[b], k, PairsPerBlock)).ToList(), 0);
            var chosen = columns.expand(geometryBatch, m, n).gather(-1, nearest) & queries.Mask.unsqueeze(-1);
            return new Neighbourhood(nearest.MoveToOuterDisposeScope(), null, chosen.MoveToOuterDisposeScope(), null);
        }

        var candidates = new List<Tensor>();
        var choice = new List<Tensor>();
        var valid = new List<Tensor>();
        var inBall = new List<Tensor>();
        // Per-cloud balls on the CPU are first narrowed by a cheap Euclidean lower bound of the distance, where the
        // group has one: the exact distance, the draws and the ranking then cover each ball's few candidates instead
        // of the whole cloud (the candidates' sizes are read on the host, hence CPU only).
        var bound = radius is not null && !shared && cloud.Elements.device_type == TorchSharp.DeviceType.CPU
            ? group.DistanceLowerBound(cloud.Elements, cloud.Orbits) : null;
        var queryBound = bound is null ? null : group.DistanceLowerBound(queries.Elements, queries.Orbits);
        Tensor? boundColumns = null, boundQueryMask = null;
        if (bound is { } b && queryBound is { } qb)
        {
            // Rotated lifts of a fixed grid (SE(2) images) differ per cloud, but their positions — all the bound
            // sees — do not: then the bound and the candidates are computed once for the batch.
            (boundColumns, boundQueryMask) = (columns, queries.Mask);
            if (batch > 1 && Same(b.Coordinates) && Same(qb.Coordinates) && Same(cloud.Mask) && Same(queries.Mask))
            {
                bound = (b.Coordinates.narrow(0, 0, 1), b.Scale);
                queryBound = (qb.Coordinates.narrow(0, 0, 1), qb.Scale);
                (boundColumns, boundQueryMask) = (columns.narrow(0, 0, 1), queries.Mask.narrow(0, 0, 1));
            }
        }
        for (long start = 0; start < m; start += block)
        {
            // Each block's temporaries are freed before the next block: without this scope they would pile up to N².
            using var blockScope = NewDisposeScope();
            long rows = Math.Min(block, m - start);
            var queryMask = queries.Mask.narrow(1, start, rows).unsqueeze(-1);          // (B or 1, rows, 1)
            if (bound is { } lower && queryBound is { } queryLower)
            {
                var possible = WithinBound(queryLower.Coordinates.narrow(1, start, rows), lower.Coordinates, radius! / lower.Scale)
                    .logical_and_(boundColumns!).logical_and_(boundQueryMask!.narrow(1, start, rows).unsqueeze(-1));
                var (ball, ballValid, ballCount) = BallByLowerBound(group, cloud, queries, start, rows, k, radius!, random, possible);
                candidates.Add(ball.MoveToOuterDisposeScope());
                valid.Add(ballValid.MoveToOuterDisposeScope());
                inBall.Add(ballCount.MoveToOuterDisposeScope());
                continue;
            }
            var distance = group.BlockDistance(
                queries.Elements.narrow(1, start, rows), queries.Orbits.narrow(1, start, rows), cloud.Elements, cloud.Orbits);
            if (radius is null)
            {
                var (_, nearest) = distance.masked_fill_(columns.logical_not(), Far).topk((int)k, dim: -1, largest: false);
                candidates.Add(nearest.MoveToOuterDisposeScope());
                valid.Add((columns.expand(geometryBatch, rows, n).gather(-1, nearest) & queryMask).MoveToOuterDisposeScope());
                continue;
            }
            var inside = (distance < radius).logical_and_(columns).logical_and_(queryMask);
            var count = inside.sum(-1);
            inBall.Add(count.MoveToOuterDisposeScope());
            if (shared)
            {
                // The in-ball points of each query (padded with out-of-ball ones up to the fullest ball, and to at
                // least k) are its candidates: every cloud then draws among c instead of n points. Sizing them reads
                // the fullest ball on the host, so on a GPU (no synchronisation inside a step) every point stays a
                // candidate: the kernel network still runs once per pair for the whole batch.
                if (distance.device_type == TorchSharp.DeviceType.CPU)
                {
                    long c = Math.Max(k, count.max().item<long>());
                    var (insideFirst, slots) = inside.to(ScalarType.Float32).topk((int)c, dim: -1);
                    candidates.Add(slots.MoveToOuterDisposeScope());
                    inside = insideFirst.to(ScalarType.Bool);
                }
                else candidates.Add(arange(n, dtype: ScalarType.Int64, device: distance.device).expand(1, rows, n).MoveToOuterDisposeScope());
            }
            // A uniform random subset of the ball: in-ball points score 1 + U(0, 1), others U(0, 1). Shared candidates
            // draw at their own columns, so a counter source chooses as it would for each cloud on its own.
            var score = (shared
                ? random.UniformAt(batch, candidates[^1], start, distance.dtype)
                : random.Uniform(new[] { batch, rows, n }, distance.dtype, distance.device, new[] { 0L, start, 0L })).add_(inside);
            (score, var chosen) = score.topk((int)k, dim: -1);
            (shared ? choice : candidates).Add(chosen.MoveToOuterDisposeScope());
            valid.Add((score >= 1).MoveToOuterDisposeScope());   // U(0, 1) can be 0, and 1 + U can round to 1
        }
        return new Neighbourhood(
            PadAndConcatenate(candidates).MoveToOuterDisposeScope(),
            choice.Count == 0 ? null : cat(choice, 1).MoveToOuterDisposeScope(),
            cat(valid, 1).MoveToOuterDisposeScope(),
            radius is null ? null : cat(inBall, 1).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Ball neighbourhoods of the query rows [start, start + rows) of every cloud, given (B or 1, rows, n) the real
    /// points that a lower bound of the distance cannot exclude: those points are compacted into (B or 1, rows, c)
    /// candidates (c the most of any query, at least k), their exact distances decide each cloud's ball, and each
    /// query draws among them at the candidates' own columns — the same draws, hence the same choice, as ranking
    /// every column.
    /// </summary>
    private static (Tensor Indices, Tensor Valid, Tensor InBallCount) BallByLowerBound(LieGroup group, LiftedCloud cloud, LiftedCloud queries,
        long start, long rows, long k, Tensor radius, RandomSource random, Tensor possible)
    {
        long batch = cloud.BatchSize, n = cloud.PointCount, candidateBatch = possible.shape[0];
        var counts = possible.sum(-1);                                                               // (B or 1, rows)
        long c = Math.Max(k, counts.max().item<long>());
        // The possible points in row order, each to the next free slot of its row (one pass over the possible
        // matrix, the rest over the possible points only).
        var flat = possible.flatten().nonzero().squeeze(1);
        var row = flat.div(n, rounding_mode: RoundingMode.floor);
        var rowStart = counts.flatten().cumsum(0).sub_(counts.flatten());
        var slot = arange(flat.shape[0], dtype: ScalarType.Int64, device: flat.device).sub_(rowStart.index_select(0, row));
        var candidate = zeros(candidateBatch * rows * c, dtype: ScalarType.Int64, device: flat.device)
            .index_copy_(0, row.mul(c).add_(slot), flat.sub(row.mul(n))).view(candidateBatch, rows, c);
        var used = arange(c, device: flat.device).view(1, 1, c) < counts.unsqueeze(-1);

        var distance = group.PairDistance(queries.Elements.narrow(1, start, rows).unsqueeze(2), queries.Orbits.narrow(1, start, rows).unsqueeze(2),
            LiftedCloud.Gather(cloud.Elements, candidate), LiftedCloud.Gather(cloud.Orbits, candidate));           // (B, rows, c)
        var inside = (distance < radius).logical_and_(used);
        var score = random.UniformAt(batch, candidate, start, distance.dtype).add_(inside);
        var (best, chosen) = score.topk((int)k, dim: -1);
        return (candidate.expand(batch, rows, c).gather(-1, chosen), best >= 1, inside.sum(-1));
    }

    /// <summary>
    /// (B, r, n) whether ‖x_i − y_j‖ &lt; <paramref name="reach"/> might hold: squared distances by one batched
    /// matrix product, compared with a margin for that form's rounding (about ε·(‖x‖² + ‖y‖²)), so that no point
    /// within reach is ever left out; a few beyond it get in and are settled by the exact distance.
    /// </summary>
    private static Tensor WithinBound(Tensor x, Tensor y, Tensor reach)
    {
        var xx = x.square().sum(-1, keepdim: true);                                       // (B, r, 1)
        var yy = y.square().sum(-1).unsqueeze(1);                                         // (B, 1, n)
        var squared = bmm(x, y.transpose(1, 2)).mul_(-2).add_(xx).add_(yy);
        var margin = 1e-5 * (xx.max() + yy.max()) + 1e-12;
        return squared < reach.square() + margin;
    }

    private static bool Same(Tensor t) => (t == t.narrow(0, 0, 1)).all().item<bool>();

    /// <summary>Blocks of candidates (·, rows, c_b) side by side along the query axis, each padded to the widest.</summary>
    /// <remarks>Padding repeats a block's first column: it lies beyond every chosen slot, so nothing ever uses it.</remarks>
    private static Tensor PadAndConcatenate(List<Tensor> blocks)
    {
        long width = blocks.Max(b => b.shape[2]);
        return cat(blocks.Select(b => b.shape[2] == width ? b
            : cat(new[] { b, b.narrow(2, 0, 1).expand(b.shape[0], b.shape[1], width - b.shape[2]) }, 2)).ToList(), 1);
    }
}
