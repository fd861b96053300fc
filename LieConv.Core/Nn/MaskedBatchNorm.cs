using LieConv.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// Batch normalisation of features (…, C) over the entries where a mask (…) is true (reference §3.1).
/// </summary>
/// <remarks>
/// Same statistics as the original, for weight compatibility: the biased variance normalises, the unbiased one
/// feeds the running estimate (momentum 0.1), and the standard deviation is √max(var, ε) — a clamp, not var + ε.
/// Masked entries are normalised like the others (the original zeroes them first, giving β − mean·γ/σ); either
/// way downstream layers ignore them, and skipping the zeroing saves a full pass over the largest tensors of the
/// network (the per-pair kernel activations). The statistics are weighted sums computed as matrix products. Where
/// every entry of a large tensor counts once, training uses libtorch's fused batch norm instead, which gives the same
/// result (see <see cref="TryFusedNormalisation"/>).
/// </remarks>
public sealed class MaskedBatchNorm : nn.Module<Tensor, Tensor, Tensor>
{
    private const double Momentum = 0.1;
    private const double Epsilon = 1e-5;

    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly Tensor running_mean;
    private readonly Tensor running_var;

    /// <summary>Normalisation of <paramref name="channels"/> features.</summary>
    public MaskedBatchNorm(long channels) : base(nameof(MaskedBatchNorm))
    {
        weight = nn.Parameter(ones(channels));
        bias = nn.Parameter(zeros(channels));
        running_mean = zeros(channels);
        running_var = ones(channels);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
        RegisterComponents();
    }

    /// <summary>
    /// Normalises <paramref name="x"/> (…, C) using the entries where <paramref name="mask"/> (…, broadcast to
    /// x's leading axes) is true — or, for a numeric mask, weighting each entry as that many entries.
    /// </summary>
    public override Tensor forward(Tensor x, Tensor mask)
    {
        Tensor mean, variance;
        if (training)
        {
            var flat = x.reshape(-1, x.shape[^1]);
            if (TryFusedNormalisation(flat, mask) is { } fused) return fused.view(x.shape);
            var (count, batchMean, spread) = Moments(flat, mask.expand(x.shape[..^1]).reshape(-1).to(x.dtype));
            (mean, variance) = (batchMean, spread / count.clamp_min(1));
            UpdateRunningStatistics(mean, spread, count);
        }
        else
        {
            mean = running_mean;
            variance = running_var;
        }
        var scale = weight / variance.clamp_min(Epsilon).sqrt();
        return addcmul(bias - mean * scale, x, scale, 1);
    }

    /// <summary>γ, the scale after normalising.</summary>
    internal Parameter Weight => weight;

    /// <summary>β, the shift after normalising.</summary>
    internal Parameter Bias => bias;

    /// <summary>
    /// The weighted moments of <paramref name="flat"/> (N, C) over its rows: the total weight W = Σ w, the mean
    /// Σ w·x / W and the spread Σ w·(x − mean)² (W at least 1 in the divisions); <paramref name="rowWeights"/> (N) null
    /// counts every row once. Differentiable.
    /// </summary>
    internal static (Tensor Count, Tensor Mean, Tensor Spread) Moments(Tensor flat, Tensor? rowWeights)
    {
        // Products with the weights rather than reductions over rows: on (N, 32) activations libtorch's sum(0) is about
        // four times slower, and its var_mean forty.
        var weights = (rowWeights ?? ones(flat.shape[0], flat.dtype, flat.device)).unsqueeze(0);
        var count = weights.sum();
        var total = matmul(weights, flat).squeeze(0);
        var weightedMean = total / count.clamp_min(1);
        return (count, weightedMean, matmul(weights, flat.square()).squeeze(0) - total * weightedMean);
    }

    /// <summary>
    /// The batch's mean and 1/√max(var, ε) for <paramref name="flat"/> (N, C), weighted as in <see cref="Moments"/>;
    /// differentiable, and the running statistics are left alone.
    /// </summary>
    internal static (Tensor Mean, Tensor InverseDeviation) BatchStatistics(Tensor flat, Tensor? rowWeights)
    {
        var (count, mean, spread) = Moments(flat, rowWeights);
        return (mean, (spread / count.clamp_min(1)).clamp_min(Epsilon).rsqrt());
    }

    /// <summary>
    /// What normalises <paramref name="flat"/> (N, C) without a graph: in training the batch's mean and 1/√max(var, ε)
    /// (weighted as in <see cref="Moments"/>), updating the running statistics, and whether each channel's variance
    /// reached ε (1) or was clamped (0); in evaluation the running statistics (and zeros).
    /// </summary>
    internal (Tensor Mean, Tensor InverseDeviation, Tensor Varying) Statistics(Tensor flat, Tensor? rowWeights)
    {
        using var _ = no_grad();
        if (!training) return RunningStatistics();
        using var scope = NewDisposeScope();   // the squares of the rows go at once
        var (count, mean, spread) = Moments(flat, rowWeights);
        return Kept(scope, FromMoments(count, mean, spread));
    }

    /// <summary>The weighted moments of a layer's rows, added up elsewhere (in double): as <see cref="Moments"/> gives them.</summary>
    internal sealed record RowMoments(double Count, double[] Mean, double[] Spread);

    /// <summary><see cref="Statistics(Tensor, Tensor?)"/> in training from moments summed elsewhere, updating the running statistics.</summary>
    internal (Tensor Mean, Tensor InverseDeviation, Tensor Varying) Statistics(RowMoments moments)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var dtype = running_mean.dtype;
        Tensor Of(double[] values) => tensor(values, ScalarType.Float64).to(dtype);
        return Kept(scope, FromMoments(tensor(moments.Count, dtype), Of(moments.Mean), Of(moments.Spread)));
    }

    /// <summary>The running mean, 1/√max(running variance, ε) and zeros (no batch variance was clamped): evaluation's statistics.</summary>
    internal (Tensor Mean, Tensor InverseDeviation, Tensor Varying) RunningStatistics()
    {
        using var _ = no_grad();
        return (running_mean.clone(), running_var.clamp_min(Epsilon).rsqrt(), zeros_like(running_var));
    }

    private static (Tensor Mean, Tensor InverseDeviation, Tensor Varying) Kept(DisposeScope scope, (Tensor Mean, Tensor InverseDeviation, Tensor Varying) statistics)
    {
        scope.MoveToOuter(statistics.Mean, statistics.InverseDeviation, statistics.Varying);
        return statistics;
    }

    private (Tensor Mean, Tensor InverseDeviation, Tensor Varying) FromMoments(Tensor count, Tensor mean, Tensor spread)
    {
        var variance = spread / count.clamp_min(1);
        UpdateRunningStatistics(mean, spread, count);
        return (mean, variance.clamp_min(Epsilon).rsqrt(), variance.ge(Epsilon).to(mean.dtype));
    }

    /// <summary>Momentum 0.1 towards the batch's mean and unbiased variance.</summary>
    private void UpdateRunningStatistics(Tensor mean, Tensor spread, Tensor count)
    {
        using var _ = no_grad();
        running_mean.mul_(1 - Momentum).add_(Momentum * mean.detach());
        running_var.mul_(1 - Momentum).add_(Momentum * (spread.detach() / (count - 1).clamp_min(1)));
    }

    /// <summary>
    /// Tensors of at least this many entries may take libtorch's fused batch norm (<see cref="TryFusedNormalisation"/>).
    /// </summary>
    /// <remarks>
    /// The fused kernels pay on the largest tensors — RotMNIST SE(2)'s per-pair kernel activations (up to 18 M
    /// entries) and its point features (4 M): 3.47 → 3.06–3.14 s per training step. Below that the gain was within the
    /// noise while the process held more memory: fusing every batch norm of RotMNIST T(2) (at most 2 M entries each)
    /// raised its resident set from 1.03 to 1.44 GB for no measurable speed. Since session 15 the kernel networks'
    /// batch norms run inside <see cref="WeightNetFunction"/> (statistics from <see cref="Statistics(Tensor, Tensor?)"/>), so this route
    /// serves the point features.
    /// </remarks>
    internal static long FusedMinimumEntries { get; set; } = 1L << 22;

    /// <summary>Whether <paramref name="mask"/> is on the CPU and all true, or all 1.</summary>
    internal static bool CountsEveryEntryOnce(Tensor mask)
    {
        if (!HostReads.AreFree(mask)) return false;
        using var all = mask.dtype == ScalarType.Bool ? mask.all() : mask.eq(1).all();
        return HostReads.Item<bool>(all, "whether a batch norm's mask counts every entry once");
    }

    /// <summary>
    /// libtorch's own batch norm of <paramref name="flat"/> (N, C) with ε = 0, when it has at least
    /// <see cref="FusedMinimumEntries"/> entries and two rows, <paramref name="mask"/> counts every row once on the
    /// CPU, and no channel's batch variance is below ε: √(var + 0) is then exactly this layer's √max(var, ε). Null,
    /// with the running statistics as they were, otherwise.
    /// </summary>
    /// <remarks>
    /// Its fused kernels take one pass for the statistics and one for the output, and two backward, where the masked
    /// formula takes about ten passes backward over the (N, C) tensor (RotMNIST SE(2): the kernel network's per-pair
    /// activations). The batch variance is read back from the running variance it updated, which costs no pass over
    /// the data; a channel whose variance cannot be told from ε within that difference's rounding takes the formula.
    /// The check reads a value on the host, so a GPU keeps the formula.
    /// </remarks>
    private Tensor? TryFusedNormalisation(Tensor flat, Tensor mask)
    {
        long rows = flat.shape[0];
        if (rows < 2 || flat.numel() < FusedMinimumEntries || !CountsEveryEntryOnce(mask)) return null;
        var (meanBefore, varianceBefore) = (running_mean.clone(), running_var.clone());
        var output = nn.functional.batch_norm(flat, running_mean, running_var, weight, bias, training: true, Momentum, eps: 0);
        using (no_grad())
        {
            // running_var = (1 − m)·before + m·var·N/(N − 1), so var = (running_var − (1 − m)·before)/m·(N − 1)/N.
            double unbias = (rows - 1.0) / rows;
            var variance = (running_var - (1 - Momentum) * varianceBefore) * (unbias / Momentum);
            // The difference of two stored values loses a few float32 ulps of each (6e-8 relative); 1e-6 is ample.
            var rounding = (running_var.abs() + varianceBefore.abs()) * (1e-6 / Momentum);
            if (HostReads.Item<double>((variance - rounding).min().to(ScalarType.Float64), "the smallest batch variance") >= Epsilon) return output;
            running_mean.copy_(meanBefore);
            running_var.copy_(varianceBefore);
        }
        output.Dispose();
        return null;
    }
}
