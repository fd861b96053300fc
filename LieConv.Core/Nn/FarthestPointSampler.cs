using LieConv.Groups;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// Farthest point subsampling on the group distance (reference §2.2): start at a random valid point, then
/// repeatedly take the point farthest from all points taken so far.
/// </summary>
public static class FarthestPointSampler
{
    /// <summary>The number of points kept from <paramref name="pointCount"/>: round-half-even(fraction·n), as the original.</summary>
    public static long KeptCount(double fraction, long pointCount) =>
        (long)Math.Round(fraction * pointCount, MidpointRounding.ToEven);

    /// <summary>
    /// Indices (B, count) of the subsampled points of each cloud. When a cloud has fewer valid points than
    /// <paramref name="count"/>, the excess indices point at padding (so they come out masked) instead of
    /// repeating valid points as the original does (reference §7.10).
    /// </summary>
    public static Tensor Sample(LieGroup group, LiftedCloud cloud, long count, RandomSource random)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        cloud = cloud.PerCloud();   // each cloud starts at its own random point
        var (a, q, mask) = (cloud.Elements, cloud.Orbits, cloud.Mask);
        long batch = cloud.BatchSize, n = cloud.PointCount;

        // The start is the (⌊u·n⌋ mod n_valid)-th valid point.
        var validCount = mask.sum(1, keepdim: true);
        var draw = (random.Uniform(new[] { batch, 1L }, ScalarType.Float64, a.device) * n).floor().to(ScalarType.Int64);
        var rank = draw.remainder(validCount.clamp_min(1));
        var current = (mask & (mask.cumsum(1) == rank + 1)).to(ScalarType.Int32).argmax(1, keepdim: true);

        if (HostReads.AreFree(a) && group.EuclideanCoordinates(a, q) is { } euclidean)
            return OnHost(euclidean.Coordinates, mask, current, count).MoveToOuterDisposeScope();

        var farthest = full(new[] { batch, n }, 1e8, dtype: a.dtype, device: a.device);
        var taken = full(new[] { batch, 1L }, double.NegativeInfinity, dtype: a.dtype, device: a.device);
        var chosen = new List<Tensor>((int)count);
        for (long t = 0; t < count; t++)
        {
            // One scope per step keeps memory at O(n) instead of O(count·n).
            using var step = NewDisposeScope();
            chosen.Add(current);
            var distance = group.PairDistance(LiftedCloud.Gather(a, current), LiftedCloud.Gather(q, current), a, q);
            // Padding scores −100 so that valid points go first; taken points score −∞ so none is taken twice.
            farthest.copy_(minimum(farthest, where(mask, distance, -100.0)).scatter_(1, current, taken));
            current = farthest.argmax(1, keepdim: true).MoveToOuterDisposeScope();
        }
        return cat(chosen, 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same loop on the host, for groups whose distance is Euclidean in some coordinates (T(d), Trivial) on the
    /// CPU: count steps of a dozen tensor operations each cost far more than the arithmetic itself on a small
    /// cloud (a 648-point image: ~500 steps over its blocks), so a plain loop over the coordinates is several times
    /// faster. Squared distances rank as the distances do; ties go to the first index, as argmax's do.
    /// </summary>
    private static Tensor OnHost(Tensor coordinates, Tensor mask, Tensor start, long count)
    {
        long batch = coordinates.shape[0], n = coordinates.shape[1], dim = coordinates.shape[2];
        var x = HostReads.Values<double>(coordinates.to(ScalarType.Float64), "the coordinates to subsample");
        var real = HostReads.Values<bool>(mask, "the real points to subsample");
        var first = HostReads.Values<long>(start, "each cloud's first subsampled point");
        var chosen = new long[batch * count];
        var farthest = new double[n];
        for (long b = 0; b < batch; b++)
        {
            // Padding scores −100 so that valid points go first; taken points −∞ so none is taken twice.
            for (long i = 0; i < n; i++) farthest[i] = real[b * n + i] ? 1e8 : -100;
            long current = first[b];
            for (long t = 0; t < count; t++)
            {
                chosen[b * count + t] = current;
                long origin = (b * n + current) * dim, best = 0;
                double bestScore = double.NegativeInfinity;
                for (long i = 0; i < n; i++)
                {
                    if (real[b * n + i])
                    {
                        double squared = 0;
                        for (long e = 0, at = (b * n + i) * dim; e < dim; e++)
                        {
                            double delta = x[at + e] - x[origin + e];
                            squared += delta * delta;
                        }
                        if (squared < farthest[i]) farthest[i] = squared;
                    }
                    if (i == current) farthest[i] = double.NegativeInfinity;
                    if (farthest[i] > bestScore) (bestScore, best) = (farthest[i], i);
                }
                current = best;
            }
        }
        return tensor(chosen, new[] { batch, count }, device: coordinates.device);
    }
}
