namespace LieConv.Training;

/// <summary>
/// A learning-rate schedule: a multiplicative factor λ(e) of a fractional epoch e, applied as lr = base·λ(e)
/// (reference §5.1). Implement it to plug in a schedule of your own; <see cref="LearningRateScheduleExtensions.FactorAtStep"/>
/// turns it into the per-iteration factor the trainer uses.
/// </summary>
public interface ILearningRateSchedule
{
    /// <summary>The factor λ(e) at the fractional epoch <paramref name="epoch"/> (≥ 0; epoch 1.5 is half-way through the second epoch).</summary>
    double Factor(double epoch);
}
