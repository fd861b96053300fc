namespace LieConv.Training;

/// <summary>
/// A linear warm-up in front of another schedule (the molecule recipe, reference §5.3):
/// λ(e) = min(e / (fraction·L), 1)·inner(e), with L the number of training epochs.
/// </summary>
/// <remarks>
/// λ(0) = 0, and because the trainer applies the factor one step late (see
/// <see cref="LearningRateScheduleExtensions.FactorAtStep"/>) the first <b>two</b> optimiser steps run with a zero
/// learning rate. The original does the same (reference §7.13) and we keep it so that runs compare step for step; the
/// two steps still move Adam's moment estimates.
/// </remarks>
public sealed class WarmupSchedule : ILearningRateSchedule
{
    /// <summary>Warm up over <paramref name="fraction"/> of <paramref name="epochs"/> epochs, then follow <paramref name="inner"/>.</summary>
    /// <param name="inner">The schedule the warm-up multiplies.</param>
    /// <param name="epochs">L, the number of training epochs.</param>
    /// <param name="fraction">The warm-up length as a fraction of L; the molecule recipe uses 0.01.</param>
    public WarmupSchedule(ILearningRateSchedule inner, int epochs, double fraction = 0.01)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        if (!(fraction > 0) || double.IsInfinity(fraction))
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The warm-up fraction must be positive and finite.");
        Inner = inner;
        Epochs = epochs;
        Fraction = fraction;
    }

    /// <summary>The schedule after (and under) the warm-up.</summary>
    public ILearningRateSchedule Inner { get; }

    /// <summary>L, the number of training epochs.</summary>
    public int Epochs { get; }

    /// <summary>The warm-up length as a fraction of <see cref="Epochs"/>.</summary>
    public double Fraction { get; }

    /// <inheritdoc />
    public double Factor(double epoch) => Math.Min(epoch / (Fraction * Epochs), 1.0) * Inner.Factor(epoch);
}
