namespace LieConv.Training;

/// <summary>
/// The standardisation of a regression target, t' = (t − μ)/σ: the network learns t' (reference §5.2,
/// MoleculeTrainer's <c>ds_stats</c>) and its outputs are mapped back with t = t'·σ + μ.
/// </summary>
public sealed record TargetScaling
{
    /// <summary>A standardisation with mean <paramref name="mean"/> and standard deviation <paramref name="std"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The mean is not finite, or the deviation is not positive and finite.</exception>
    public TargetScaling(double mean, double std)
    {
        if (!double.IsFinite(mean)) throw new ArgumentOutOfRangeException(nameof(mean), mean, "The mean must be finite.");
        if (!(std > 0) || !double.IsFinite(std)) throw new ArgumentOutOfRangeException(nameof(std), std, "The standard deviation must be positive and finite.");
        Mean = mean;
        Std = std;
    }

    /// <summary>μ.</summary>
    public double Mean { get; }

    /// <summary>σ.</summary>
    public double Std { get; }

    /// <summary>No scaling (μ = 0, σ = 1).</summary>
    public static TargetScaling Identity { get; } = new(0, 1);
}
