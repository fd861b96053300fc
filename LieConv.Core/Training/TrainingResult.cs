namespace LieConv.Training;

/// <summary>The outcome of <see cref="Trainer{TBatch}.Fit"/> or <see cref="Trainer{TBatch}.Resume"/>.</summary>
/// <param name="CompletedEpochs">Epochs trained (fewer than planned after early stopping).</param>
/// <param name="GlobalSteps">Optimiser steps taken over the whole run.</param>
/// <param name="History">One summary per completed epoch, including epochs before a resume.</param>
/// <param name="BestEpoch">The zero-based epoch with the best selection metric; null without a selection metric.</param>
/// <param name="BestValue">The best selection-metric value; null without a selection metric.</param>
/// <param name="StoppedEarly">Whether patience ran out before the last epoch.</param>
/// <param name="RestoredBestWeights">Whether the model now holds the best epoch's weights (otherwise the last epoch's).</param>
public sealed record TrainingResult(
    int CompletedEpochs,
    long GlobalSteps,
    IReadOnlyList<EpochSummary> History,
    int? BestEpoch,
    double? BestValue,
    bool StoppedEarly,
    bool RestoredBestWeights);
