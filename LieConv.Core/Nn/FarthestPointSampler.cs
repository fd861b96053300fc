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
}
