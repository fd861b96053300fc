using static TorchSharp.torch;

namespace LieConv.Training;

/// <summary>
/// Averages per-batch metric means over an evaluation set, weighting each batch by its <b>actual</b> size:
/// Σ n_b·m_b / Σ n_b. The sums stay on the metrics' device until <see cref="Averages"/>, so adding a batch does not
/// synchronise with the device.
/// </summary>
/// <remarks>
/// The original weights every batch by the <i>nominal</i> batch size (reference §7.13), which over-weights a short
/// last batch; with drop_last the two agree, otherwise ours is the true per-sample mean.
/// </remarks>
public sealed class MetricAverager : IDisposable
{
    private readonly Dictionary<string, Tensor> sums = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> weights = new(StringComparer.Ordinal);
    private readonly List<string> order = new();
    private bool disposed;

    /// <summary>The metric names in the order they were first added.</summary>
    public IReadOnlyList<string> Names => order;

    /// <summary>Adds one batch's mean <paramref name="batchMean"/> (a one-element tensor) of <paramref name="name"/> for <paramref name="batchSize"/> samples.</summary>
    public void Add(string name, Tensor batchMean, long batchSize)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(batchMean);
        ArgumentOutOfRangeException.ThrowIfNegative(batchSize);
        if (batchMean.numel() != 1)
            throw new ArgumentException($"Metric '{name}' must be one number per batch; got shape ({Losses.Shape(batchMean)}).", nameof(batchMean));
        using var scope = NewDisposeScope();
        var weighted = batchMean.detach().reshape(Array.Empty<long>()).to(ScalarType.Float64) * (double)batchSize;
        if (sums.TryGetValue(name, out var sum))
        {
            sum.add_(weighted);
            weights[name] += batchSize;
        }
        else
        {
            // The running sum outlives the caller's per-batch scope.
            sums[name] = weighted.clone().DetachFromDisposeScope();
            weights[name] = batchSize;
            order.Add(name);
        }
    }

    /// <summary>The total weight (samples) added for <paramref name="name"/>.</summary>
    public long Weight(string name) => weights.TryGetValue(name, out long w) ? w : 0;

    /// <summary>Each metric's weighted mean (NaN for a metric whose total weight is 0); reads the sums back to the host.</summary>
    public IReadOnlyDictionary<string, double> Averages()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var name in order)
        {
            long w = weights[name];
            result[name] = w == 0 ? double.NaN : sums[name].item<double>() / w;
        }
        return result;
    }

    /// <summary>Frees the running sums.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var sum in sums.Values) sum.Dispose();
        sums.Clear();
    }
}
