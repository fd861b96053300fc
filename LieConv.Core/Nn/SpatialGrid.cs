using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// Exact k-nearest-neighbour search in linear time for clouds whose distance is Euclidean in some coordinates:
/// points are bucketed into a grid of cubes of side s, and each query compares itself only with the points of the
/// 3^E cubes around its own. Any point outside those cubes is farther than the nearest face of that block (at least
/// s; unbounded on sides where the block reaches past the grid), so the k nearest candidates are the true k nearest
/// whenever the k-th lies within it; queries for which that fails (sparse regions, very full cubes) are searched
/// against the whole cloud instead, so the result is exact in every case.
/// </summary>
internal static class SpatialGrid
{
    /// <summary>Cube side: the ball of radius s around a query holds about 2k points at the cloud's mean density.</summary>
    private const double PointsInBallPerNeighbour = 2;

    /// <summary>Cubes fuller than this many times the mean occupancy (plus 16) are not expanded; their queries go to the full search.</summary>
    private const double MaxOccupancyFactor = 8;

    /// <summary>
    /// The <paramref name="k"/> nearest valid points (indices (m, k), nearest first) of each query; rows of invalid
    /// queries are arbitrary. Needs at least k valid points.
    /// </summary>
    /// <param name="points">(n, E) coordinates.</param>
    /// <param name="pointMask">(n) real points.</param>
    /// <param name="queries">(m, E) query coordinates.</param>
    /// <param name="k">Neighbours per query.</param>
    /// <param name="pairsPerBlock">Candidate distances computed at once.</param>
    public static Tensor Nearest(Tensor points, Tensor pointMask, Tensor queries, long k, long pairsPerBlock)
    {
        using var scope = NewDisposeScope();
        int dim = (int)points.shape[1];
        var real = HostReads.TrueIndices(pointMask, "the real points of a grid search");
        var x = points.index_select(0, real).to(ScalarType.Float64);               // (nv, E); float64 keeps cube edges exact
        var q = queries.to(ScalarType.Float64);
        long nv = x.shape[0], m = q.shape[0];

        var low = x.amin(0);
        var extent = (x.amax(0) - low).clamp_min(1e-12);
        double volume = HostReads.Item<double>(extent.prod(), "the volume a grid covers");
        double side = Math.Pow(PointsInBallPerNeighbour * k / UnitBallVolume(dim) * volume / nv, 1.0 / dim);
        var cellsPerAxis = (extent / side).floor().to(ScalarType.Int64) + 1;       // (E)
        var counts = HostReads.Values<long>(cellsPerAxis, "the grid's cubes per axis");
        double cells = counts.Aggregate(1.0, (a, c) => a * c);
        if (cells > 1e15) return Map(real, BruteForce(x, q, k, pairsPerBlock)).MoveToOuterDisposeScope();   // degenerate spread
        var strides = new long[dim];
        long next = 1;
        for (int e = dim - 1; e >= 0; e--) { strides[e] = next; next *= counts[e]; }   // < 1e15: no overflow
        var stride = tensor(strides, device: x.device);

        Tensor CellOf(Tensor t) => ((t - low) / side).floor().to(ScalarType.Int64).clamp_min(0).minimum(cellsPerAxis - 1);
        var (sortedIds, order) = (CellOf(x) * stride).sum(-1).sort();
        var sorted = x.index_select(0, order).to(points.dtype);                     // points in cube order

        // Cubes adjacent along the last axis have consecutive ids, so a query's 3^E cubes are 3^(E-1) runs of three
        // cubes, each one contiguous range of the sorted points.
        var offsets = dim == 1 ? zeros(1, 1, dtype: ScalarType.Int64, device: x.device)
            : cartesian_prod(Enumerable.Repeat(tensor(new long[] { -1, 0, 1 }, device: x.device), dim - 1).Append(zeros(1, dtype: ScalarType.Int64, device: x.device)).ToArray()).view(-1, dim);
        long runs = offsets.shape[0];
        var queryCell = CellOf(q);
        var (first, length) = Runs(queryCell, offsets, cellsPerAxis, stride, sortedIds);          // (m, runs) each
        // Points outside the searched cubes are farther than the nearest face of the block on a side where cubes
        // remain beyond it (none lie past the first and last cubes): a neighbour within that distance is certainly
        // among the k nearest.
        var offset = q - low;
        var below = (offset - (queryCell - 1) * side).masked_fill_(queryCell < 2, double.PositiveInfinity);
        var above = ((queryCell + 2) * side - offset).masked_fill_(queryCell + 2 >= cellsPerAxis, double.PositiveInfinity);
        var safe = minimum(below, above).amin(-1).pow_(2).to(points.dtype);                  // (m) squared
        // Every run gets as many slots as the fullest; capped, so that a crowded spot cannot blow up the search (its
        // queries go to the full search instead).
        long width = Math.Min(HostReads.Item<long>(length.max(), "the fullest run of grid cubes"), (long)(MaxOccupancyFactor * 3 * nv / cells) + 16);
        var slot = arange(width, device: x.device).view(1, 1, width);

        var result = empty(m, k, dtype: ScalarType.Int64, device: x.device);
        var fallback = new List<Tensor>();
        long rowsPerBlock = Math.Max(1, pairsPerBlock / (runs * width));
        var queriesSorted = q.to(points.dtype);
        for (long start = 0; start < m; start += rowsPerBlock)
        {
            using var block = NewDisposeScope();
            long rows = Math.Min(rowsPerBlock, m - start);
            var query = queriesSorted.narrow(0, start, rows);
            var runLength = length.narrow(0, start, rows);
            var position = (first.narrow(0, start, rows).unsqueeze(-1) + slot).clamp_max(nv - 1).view(rows, runs * width);
            var used = (slot < runLength.unsqueeze(-1)).view(rows, runs * width);
            var distance = (query.unsqueeze(1) - sorted.index_select(0, position.flatten()).view(rows, runs * width, dim)).pow_(2).sum(-1)
                .masked_fill_(used.logical_not(), double.PositiveInfinity);
            long take = Math.Min(k, runs * width);
            var (nearest, column) = distance.topk((int)take, dim: -1, largest: false);
            var exact = (runLength <= width).all(-1);
            if (take == k)
            {
                exact &= nearest.select(1, k - 1) <= safe.narrow(0, start, rows);
                result.narrow(0, start, rows).copy_(order.index_select(0, position.gather(1, column).flatten()).view(rows, k));
            }
            else exact = zeros_like(exact);
            fallback.Add((HostReads.TrueIndices(exact.logical_not(), "the queries a grid search cannot clear") + start).MoveToOuterDisposeScope());
        }
        var missed = cat(fallback, 0);
        if (missed.shape[0] > 0)
            result.index_copy_(0, missed, BruteForce(x, q.index_select(0, missed), k, pairsPerBlock));
        return Map(real, result).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// For each query cube and run offset, the first position and length of the points in the run of three cubes
    /// (offset −1, 0, +1 along the last axis) among the sorted points; runs that leave the grid are empty or clipped.
    /// </summary>
    private static (Tensor First, Tensor Length) Runs(Tensor queryCell, Tensor offsets, Tensor cellsPerAxis, Tensor stride, Tensor sortedIds)
    {
        var cell = queryCell.unsqueeze(1) + offsets;                                    // (m, runs, E)
        long last = cellsPerAxis.shape[0] - 1;
        var outside = ((cell < 0) | (cell >= cellsPerAxis)).any(-1);
        var centre = cell.clamp_min(0).minimum(cellsPerAxis - 1);
        var low = centre.clone();
        low.select(-1, last).sub_(1).clamp_min_(0);
        var high = centre.clone();
        high.select(-1, last).add_(2).clamp_max_(HostReads.Item<long>(cellsPerAxis[last], "the grid's cubes along its last axis"));   // one past the run's last cube
        var first = searchsorted(sortedIds, (low * stride).sum(-1));
        var end = searchsorted(sortedIds, (high * stride).sum(-1));
        // When the run ends at the grid's edge, high·stride is the id of the next row's first cube: exclusive, so correct.
        return (first, (end - first).masked_fill_(outside, 0));
    }

    /// <summary>k nearest rows of <paramref name="x"/> for each row of <paramref name="q"/>, by blocks of queries.</summary>
    private static Tensor BruteForce(Tensor x, Tensor q, long k, long pairsPerBlock)
    {
        long rows = Math.Max(1, pairsPerBlock / Math.Max(1, x.shape[0]));
        var parts = new List<Tensor>();
        for (long start = 0; start < q.shape[0]; start += rows)
        {
            using var block = NewDisposeScope();
            var (_, index) = cdist(q.narrow(0, start, Math.Min(rows, q.shape[0] - start)), x).topk((int)k, dim: -1, largest: false);
            parts.Add(index.MoveToOuterDisposeScope());
        }
        return parts.Count == 0 ? empty(0, k, dtype: ScalarType.Int64) : cat(parts, 0);
    }

    /// <summary>Indices among the valid points back to indices among all points.</summary>
    private static Tensor Map(Tensor real, Tensor indices) => real.index_select(0, indices.flatten()).view(indices.shape);

    private static double UnitBallVolume(int dim) => Math.Pow(Math.PI, dim / 2.0) / Gamma(dim / 2.0 + 1);

    private static double Gamma(double x) => x switch
    {
        1 => 1,
        0.5 => Math.Sqrt(Math.PI),
        _ => (x - 1) * Gamma(x - 1),
    };
}
