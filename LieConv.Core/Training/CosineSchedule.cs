namespace LieConv.Training;

/// <summary>
/// oil's <c>cosLr(L)</c> (reference §5.1): λ(e) = max(½(1 + cos(πe/L)), 0.001) for e &lt; L. The floor keeps the last
/// steps from having a zero learning rate.
/// </summary>
public sealed class CosineSchedule : ILearningRateSchedule
{
    /// <summary>The smallest factor the schedule returns.</summary>
    public const double Floor = 0.001;

    /// <summary>A cosine decay over <paramref name="epochs"/> epochs (L).</summary>
    public CosineSchedule(int epochs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        Epochs = epochs;
    }

    /// <summary>The cycle length L in epochs.</summary>
    public int Epochs { get; }

    /// <summary>
    /// λ(e). For e ≥ L the cycle restarts (λ(L) = 1), as oil's cycle multiplier 1 does; training never gets there
    /// because the last step's fractional epoch is L − 1/steps.
    /// </summary>
    public double Factor(double epoch)
    {
        if (double.IsNaN(epoch) || epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "The fractional epoch must be ≥ 0.");
        double e = epoch < Epochs ? epoch : epoch % Epochs;
        return Math.Max(0.5 * (1 + Math.Cos(Math.PI * e / Epochs)), Floor);
    }
}
