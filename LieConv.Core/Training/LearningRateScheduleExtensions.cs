namespace LieConv.Training;

/// <summary>How the trainer turns a schedule of fractional epochs into one factor per optimiser step.</summary>
public static class LearningRateScheduleExtensions
{
    /// <summary>
    /// The factor used by optimiser step <paramref name="step"/> (zero-based, counted over the whole run).
    /// </summary>
    /// <remarks>
    /// The original (reference §5.1) starts at λ(0) and, <i>after</i> step i of epoch E (i zero-based, E from 1),
    /// sets e = (i + (E−1)·S)/S. Step g ≥ 1 therefore runs with λ((g−1)/S): the factor lags one step, and steps 0 and 1
    /// both use λ(0). We reproduce that lag (§7.13) so that learning-rate curves match the original's; as a closed form
    /// of the step it also needs no state, so a resumed run gets the same factors.
    /// </remarks>
    /// <param name="schedule">The schedule.</param>
    /// <param name="step">The zero-based optimiser step.</param>
    /// <param name="stepsPerEpoch">S, the optimiser steps in one epoch.</param>
    public static double FactorAtStep(this ILearningRateSchedule schedule, long step, int stepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepsPerEpoch, 1);
        return schedule.Factor(step == 0 ? 0.0 : (step - 1) / (double)stepsPerEpoch);
    }
}
