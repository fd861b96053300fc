using LieConv.Groups;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// Neighbourhood selection (reference §2.3): a uniform random subset of the points within the layer's radius
/// (ball mode), or the k nearest points (kNN mode), by the group distance.
/// </summary>
/// <remarks>
/// Distances are computed for a block of query rows at a time and only the chosen indices are kept, so memory
/// grows with N·k instead of N² (the original materialises all (B, N, N, D) pair features). Three strategies give
/// the same neighbourhoods: large kNN clouds with Euclidean coordinates go through a spatial grid (linear time);
/// balls of groups with a Euclidean lower bound of their distance first drop the points the bound excludes; any
/// other search compares every pair, once for the batch when clouds share their points
/// (<see cref="LiftedCloud.SharesGeometry"/>). Every cloud draws its own uniform subset of each ball, at the
/// points' own columns, so that a counter source chooses the same neighbours whichever strategy runs.
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

    /// <summary>
    /// Clouds that do not share their points keep the distances between all their pairs for the next ball layers on
    /// the same points when there are at most this many ((B, n, n) entries: 8 MB in float32).
    /// </summary>
    public const long KeptDistancesMaxEntries = 1L << 21;

    /// <summary>
    /// Pairs per block when computing a table of all pair distances (<see cref="AllPairDistances"/>): groups without a
    /// closed-form distance (SE(3)) compose and take the log of a matrix per pair, holding several (pairs, 4, 4)
    /// temporaries at once, so the blocks are kept small (SE(3) molecules: 0.7 GB less at the peak of a step).
    /// </summary>
    private const long TablePairsPerBlock = 1L << 15;

    /// <summary>Distance given to padding columns so that they are never nearer than a real point.</summary>
    private const double Far = 1e8;

    /// <summary>Chooses up to <paramref name="k"/> neighbours of each query among the points of <paramref name="cloud"/>.</summary>
    /// <param name="group">The group whose distance ranks neighbours.</param>
    /// <param name="cloud">The layer's input points (B, n).</param>
    /// <param name="queries">The query points (B, m), a subset of <paramref name="cloud"/>.</param>
    /// <param name="k">Neighbourhood size; capped at n.</param>
    /// <param name="radius">Ball radius (0-d tensor); null selects the k nearest points instead.</param>
    /// <param name="random">Noise for the uniform choice inside a ball.</param>
    /// <param name="distances">
    /// (B, n, n) the distances between every pair of the cloud's points (<see cref="AllPairDistances"/>), when the
    /// queries are those points: a ball search then only compares them with the radius.
    /// </param>
    /// <param name="queryIndices">
    /// (B, m) which of the cloud's points the queries are, when known (a subsampling layer). Ball searches whose lower
    /// bound's coordinates are the same in every cloud (lifts of one grid) then bound every pair of points once for the
    /// batch and read each cloud's query rows from that table, instead of bounding every (cloud, query, point) triple.
    /// </param>
    public static Neighbourhood Select(LieGroup group, LiftedCloud cloud, LiftedCloud queries, long k, Tensor? radius, RandomSource random,
        Tensor? distances = null, Tensor? queryIndices = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        bool shared = cloud.SharesGeometry && queries.SharesGeometry;
        if (!shared)
        {
            cloud = cloud.PerCloud();
            queries = queries.PerCloud();
        }
        k = Math.Min(k, cloud.PointCount);
        // The strategies that read sizes on the host (grid cubes, candidate counts) run on the CPU only, so that a GPU
        // step never waits for the host.
        bool onCpu = HostReads.AreFree(cloud.Elements);
        if (distances is not null && (radius is null || shared || distances.shape[1] != queries.PointCount))
            throw new ArgumentException("Kept distances serve ball searches of clouds that do not share their points, at every point.", nameof(distances));
        if (queryIndices is not null && (queryIndices.dim() != 2 || queryIndices.shape[1] != queries.PointCount
            || (queryIndices.shape[0] != queries.BatchSize && queryIndices.shape[0] != 1)))
            throw new ArgumentException($"Query indices must be (B, {queries.PointCount}); got ({string.Join(", ", queryIndices.shape)}).", nameof(queryIndices));
        var chosen = radius is null
            ? (onCpu ? NearestByGrid(group, cloud, queries, k) : null) ?? ByBlocks(group, cloud, queries, k, null, random, shared, null)
            : (onCpu && !shared && distances is null ? BallsByLowerBound(group, cloud, queries, k, radius, random, queryIndices) : null)
              ?? ByBlocks(group, cloud, queries, k, radius, random, shared, distances);
        return chosen.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// (B, n, n) the distances between every pair of points of clouds that do not share them, if there are at most
    /// <see cref="KeptDistancesMaxEntries"/>; null otherwise. A network whose layers keep the same points computes
    /// them once: each ball layer then only compares them with its radius (SE(3) molecules: the log map of every
    /// pair once per forward pass instead of once per layer).
    /// </summary>
    public static Tensor? AllPairDistances(LieGroup group, LiftedCloud cloud)
    {
        long n = cloud.PointCount;
        if (cloud.SharesGeometry || cloud.BatchSize * n * n > KeptDistancesMaxEntries) return null;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var perCloud = cloud.PerCloud();
        var blocks = new List<Tensor>();
        long block = BlockRows(cloud.BatchSize, n, n, TablePairsPerBlock);
        for (long start = 0; start < n; start += block)
        {
            using var blockScope = NewDisposeScope();
            long rows = Math.Min(block, n - start);
            blocks.Add(blockScope.MoveToOuter(group.BlockDistance(
                perCloud.Elements.narrow(1, start, rows), perCloud.Orbits.narrow(1, start, rows), perCloud.Elements, perCloud.Orbits)));
        }
        return scope.MoveToOuter(cat(blocks, 1));
    }

    /// <summary>Rows of queries per block, so that a block's (B, rows, n) tensors hold about <paramref name="pairs"/> entries.</summary>
    private static long BlockRows(long batch, long n, long m, long pairs = PairsPerBlock) => Math.Clamp(pairs / Math.Max(1, batch * n), 1, Math.Max(1, m));

    /// <summary>
    /// The k nearest points through <see cref="SpatialGrid"/>, for clouds of at least <see cref="SpatialGridMinPoints"/>
    /// points with Euclidean coordinates and at least k real points each; null otherwise.
    /// </summary>
    private static Neighbourhood? NearestByGrid(LieGroup group, LiftedCloud cloud, LiftedCloud queries, long k)
    {
        long n = cloud.PointCount, m = queries.PointCount, geometryBatch = cloud.Elements.shape[0];
        if (n < SpatialGridMinPoints
            || group.EuclideanCoordinates(cloud.Elements, cloud.Orbits) is not { } points
            || group.EuclideanCoordinates(queries.Elements, queries.Orbits) is not { } at
            || HostReads.Item<long>(cloud.Mask.sum(1).min(), "the fewest real points of a cloud") < k)
            return null;
        var nearest = stack(Enumerable.Range(0, (int)geometryBatch)
            .Select(b => SpatialGrid.Nearest(points.Coordinates[b], cloud.Mask[b], at.Coordinates[b], k, PairsPerBlock)).ToList(), 0);
        var valid = cloud.Mask.unsqueeze(1).expand(geometryBatch, m, n).gather(-1, nearest) & queries.Mask.unsqueeze(-1);
        return new Neighbourhood(nearest, null, valid, null);
    }

    /// <summary>
    /// Balls of clouds that do not share their points, for groups with a Euclidean lower bound of their distance
    /// (<see cref="LieGroup.DistanceLowerBound"/>); null otherwise. The points the bound excludes are dropped before
    /// exact distances, draws and ranking. When the bound's coordinates of points and queries and both masks are
    /// exactly the same in every cloud, the bound and the candidates are computed once for the batch. When only the
    /// points are the same, up to rounding (lifts of one grid: SE(2)'s V(θ)·b is the grid point rounded differently
    /// for each rotation), and the queries are known points of each cloud (<paramref name="queryIndices"/>), the bound
    /// between every pair of points is computed and compacted into each point's candidates once, and each cloud reads
    /// its queries' lists: no (B, m, n) flags are formed, and blocks are sized by the candidates (RotMNIST SE(2):
    /// neighbour selection 360–540 → 130–175 ms a step).
    /// </summary>
    private static Neighbourhood? BallsByLowerBound(LieGroup group, LiftedCloud cloud, LiftedCloud queries, long k, Tensor radius, RandomSource random,
        Tensor? queryIndices)
    {
        if (group.DistanceLowerBound(cloud.Elements, cloud.Orbits) is not { } bound
            || group.DistanceLowerBound(queries.Elements, queries.Orbits) is not { } queryBound)
            return null;
        long batch = cloud.BatchSize, n = cloud.PointCount, m = queries.PointCount;
        var (points, at, columns, queryMask) = (bound.Coordinates, queryBound.Coordinates, cloud.Mask, queries.Mask);
        var reach = radius / bound.Scale;
        (Tensor Table, Tensor Counts)? pointCandidates = null;   // each point's candidates, when the batch shares them
        if (batch > 1 && new[] { points, at, columns, queryMask }.All(LiftedCloud.SameForEveryCloud))
            (points, at, columns, queryMask) = (points.narrow(0, 0, 1), at.narrow(0, 0, 1), columns.narrow(0, 0, 1), queryMask.narrow(0, 0, 1));
        else if (batch > 1 && queryIndices is not null && ShareBoundAcrossClouds && n * n <= SharedBoundMaxEntries && LiftedCloud.SameForEveryCloud(columns)
                 && SharedCoordinatesSpread(points) is { } spread)
        {
            // Each cloud's points lie within `spread` of the first cloud's, so a pair within reach in any cloud is within
            // reach + 2·spread in the first: bounding the first cloud's pairs with that reach leaves no point out.
            queryIndices = queryIndices.shape[0] == batch ? queryIndices : queryIndices.expand(batch, m);
            (points, columns) = (points.narrow(0, 0, 1), columns.narrow(0, 0, 1));
            pointCandidates = Compact(WithinBound(points, points, reach + 2 * spread).logical_and_(columns.unsqueeze(1)), k);
        }
        // Candidates are gathered for every (query, point) pair: their distance coordinates are computed once per point.
        var coordinates = (Points: group.DistanceCoordinates(cloud.Elements), Queries: group.DistanceCoordinates(queries.Elements));

        var indices = new List<Tensor>();
        var valid = new List<Tensor>();
        var inBall = new List<Tensor>();
        // Blocks hold (B, rows, n) flags, or only (B, rows, c) candidates when read from the points' lists.
        long block = BlockRows(batch, pointCandidates?.Table.shape[2] ?? n, m);
        for (long start = 0; start < m; start += block)
        {
            using var blockScope = NewDisposeScope();
            long rows = Math.Min(block, m - start);
            var blockMask = queryMask.narrow(1, start, rows);
            var (candidate, counts) = pointCandidates is { } table
                ? CandidatesOfPoints(table, queryIndices!.narrow(1, start, rows), blockMask, k)
                : Compact(WithinBound(at.narrow(1, start, rows), points, reach).logical_and_(columns.unsqueeze(1)).logical_and_(blockMask.unsqueeze(-1)), k);
            var (chosen, chosenValid, count) = BallFromCandidates(group, cloud, queries, coordinates, start, rows, k, radius, random, candidate, counts);
            indices.Add(chosen.MoveToOuterDisposeScope());
            valid.Add(chosenValid.MoveToOuterDisposeScope());
            inBall.Add(count.MoveToOuterDisposeScope());
        }
        return new Neighbourhood(cat(indices, 1), null, cat(valid, 1), cat(inBall, 1));
    }

    /// <summary>
    /// Any group, any device: distances for a block of query rows against every point, then the k nearest, or a
    /// random subset of each ball. Clouds that share their points are searched once for the batch, each query's
    /// in-ball points becoming its candidates (on the CPU; on a GPU every point stays a candidate).
    /// </summary>
    private static Neighbourhood ByBlocks(LieGroup group, LiftedCloud cloud, LiftedCloud queries, long k, Tensor? radius, RandomSource random, bool shared,
        Tensor? distances)
    {
        long batch = cloud.BatchSize, geometryBatch = cloud.Elements.shape[0], n = cloud.PointCount, m = queries.PointCount;
        var columns = cloud.Mask.unsqueeze(1);                                        // (B or 1, 1, n)
        var candidates = new List<Tensor>();
        var choice = new List<Tensor>();
        var valid = new List<Tensor>();
        var inBall = new List<Tensor>();
        long block = BlockRows(geometryBatch, n, m);
        for (long start = 0; start < m; start += block)
        {
            // Each block's temporaries are freed before the next block: without this scope they would pile up to N².
            using var blockScope = NewDisposeScope();
            long rows = Math.Min(block, m - start);
            var queryMask = queries.Mask.narrow(1, start, rows).unsqueeze(-1);          // (B or 1, rows, 1)
            var distance = distances?.narrow(1, start, rows) ?? group.BlockDistance(
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
                // the fullest ball on the host, so on a GPU every point stays a candidate: the kernel network still
                // runs once per pair for the whole batch.
                if (HostReads.AreFree(distance))
                {
                    long c = Math.Max(k, HostReads.Item<long>(count.max(), "the fullest ball"));
                    var (insideFirst, slots) = inside.to(ScalarType.Float32).topk((int)c, dim: -1);
                    candidates.Add(slots.MoveToOuterDisposeScope());
                    inside = insideFirst.to(ScalarType.Bool);
                }
                else candidates.Add(arange(n, dtype: ScalarType.Int64, device: distance.device).expand(1, rows, n).MoveToOuterDisposeScope());
            }
            // A uniform random subset of the ball. Shared candidates draw at their own columns, so a counter source
            // chooses as it would for each cloud on its own.
            var (chosen, chosenValid) = random.ChooseSubsets(batch,
                shared ? candidates[^1] : arange(n, dtype: ScalarType.Int64, device: distance.device).expand(1, rows, n), inside, start, k, distance.dtype);
            (shared ? choice : candidates).Add(chosen.MoveToOuterDisposeScope());
            valid.Add(chosenValid.MoveToOuterDisposeScope());
        }
        return new Neighbourhood(
            PadAndConcatenate(candidates),
            choice.Count == 0 ? null : cat(choice, 1),
            cat(valid, 1),
            radius is null ? null : cat(inBall, 1))
        {
            InBallCandidatesFirst = shared && radius is not null && HostReads.AreFree(cloud.Elements),
        };
    }

    /// <summary>
    /// The true columns of each row of (G, rows, n) flags, compacted in column order into (G, rows, c) indices padded
    /// with 0 (c the most of any row, at least <paramref name="width"/>), with each row's count (G, rows).
    /// </summary>
    /// <remarks>One pass over the flags; the rest runs over the true entries only.</remarks>
    private static (Tensor Candidates, Tensor Counts) Compact(Tensor flags, long width)
    {
        long groups = flags.shape[0], rows = flags.shape[1], n = flags.shape[2];
        var counts = flags.sum(-1);
        long c = Math.Max(width, HostReads.Item<long>(counts.max(), "the most candidates of a query"));
        var flat = HostReads.TrueIndices(flags, "the candidates a lower bound keeps");
        var row = flat.div(n, rounding_mode: RoundingMode.floor);
        var rowStart = counts.flatten().cumsum(0).sub_(counts.flatten());
        var slot = arange(flat.shape[0], dtype: ScalarType.Int64, device: flat.device).sub_(rowStart.index_select(0, row));
        var candidates = zeros(groups * rows * c, dtype: ScalarType.Int64, device: flat.device)
            .index_copy_(0, row.mul(c).add_(slot), flat.sub(row.mul(n))).view(groups, rows, c);
        return (candidates, counts);
    }

    /// <summary>
    /// The candidates of the queries at <paramref name="queryIndices"/> (B, rows) from a table of every point's
    /// (<see cref="Compact"/> of the bound between all pairs of points, shared by the batch): the same (B, rows, c)
    /// indices, padding and counts as compacting each cloud's own (B, rows, n) flags, without forming them.
    /// </summary>
    private static (Tensor Candidates, Tensor Counts) CandidatesOfPoints((Tensor Table, Tensor Counts) points, Tensor queryIndices, Tensor queryMask, long width)
    {
        var (table, pointCounts) = (points.Table[0], points.Counts[0]);
        long batch = queryIndices.shape[0], rows = queryIndices.shape[1];
        var counts = pointCounts.index_select(0, queryIndices.flatten()).view(batch, rows).mul_(queryMask);
        long c = Math.Max(width, HostReads.Item<long>(counts.max(), "the most candidates of a query"));
        var candidates = table.narrow(1, 0, c).index_select(0, queryIndices.flatten()).view(batch, rows, c);
        // Padded queries have no candidates: their slots hold 0, as compaction leaves them.
        return (candidates.mul_(queryMask.unsqueeze(-1)), counts);
    }

    /// <summary>
    /// Ball neighbourhoods of the query rows [start, start + rows) of every cloud, given (B or 1, rows, c) candidates
    /// in column order, padded with 0, and how many of each row are real (<see cref="Compact"/>): their exact distances
    /// decide each cloud's ball, and each query draws among them at the candidates' own columns — the same draws,
    /// hence the same choice, as ranking every column.
    /// </summary>
    private static (Tensor Indices, Tensor Valid, Tensor InBallCount) BallFromCandidates(LieGroup group, LiftedCloud cloud, LiftedCloud queries,
        (Tensor Points, Tensor Queries) coordinates, long start, long rows, long k, Tensor radius, RandomSource random, Tensor candidate, Tensor counts)
    {
        long batch = cloud.BatchSize, c = candidate.shape[2];
        var used = arange(c, device: candidate.device).view(1, 1, c) < counts.unsqueeze(-1);

        var distance = group.CoordinatePairDistance(coordinates.Queries.narrow(1, start, rows).unsqueeze(2), queries.Orbits.narrow(1, start, rows).unsqueeze(2),
            LiftedCloud.Gather(coordinates.Points, candidate), LiftedCloud.Gather(cloud.Orbits, candidate));         // (B, rows, c)
        var inside = (distance < radius).logical_and_(used);
        var (chosen, chosenValid) = random.ChooseSubsets(batch, candidate, inside, start, k, distance.dtype);
        return (candidate.expand(batch, rows, c).gather(-1, chosen), chosenValid, inside.sum(-1));
    }

    /// <summary>Whether clouds that share their bound's coordinates bound each pair of points once (off: per cloud; tests compare).</summary>
    internal static bool ShareBoundAcrossClouds { get; set; } = true;

    /// <summary>Point pairs bounded once for a batch whose clouds share their bound's coordinates (16 MB of flags).</summary>
    private const long SharedBoundMaxEntries = 1L << 24;

    /// <summary>
    /// How far (B, n, D) coordinates stray from the first cloud's, if every cloud holds the same points up to rounding
    /// (lifts of one grid: SE(2)'s translation part V(θ)·b is the grid point, rounded differently for each rotation);
    /// null if they are different points.
    /// </summary>
    internal static double? SharedCoordinatesSpread(Tensor coordinates)
    {
        double spread = HostReads.Item<double>((coordinates - coordinates.narrow(0, 0, 1)).square().sum(-1).max().sqrt().to(ScalarType.Float64), "how far clouds' bound coordinates differ");
        double size = HostReads.Item<double>(coordinates.abs().max().to(ScalarType.Float64), "the size of the bound coordinates");
        return spread <= 1e-4 * (1 + size) ? spread : null;
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

    /// <summary>Blocks of candidates (·, rows, c_b) side by side along the query axis, each padded to the widest.</summary>
    /// <remarks>Padding repeats a block's first column: it lies beyond every chosen slot, so nothing ever uses it.</remarks>
    private static Tensor PadAndConcatenate(List<Tensor> blocks)
    {
        long width = blocks.Max(b => b.shape[2]);
        return cat(blocks.Select(b => b.shape[2] == width ? b
            : cat(new[] { b, b.narrow(2, 0, 1).expand(b.shape[0], b.shape[1], width - b.shape[2]) }, 2)).ToList(), 1);
    }
}
