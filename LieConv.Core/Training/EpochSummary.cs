namespace LieConv.Training;

/// <summary>One row of a run's history (oil's scalar table, one row per epoch).</summary>
/// <param name="Epoch">The zero-based epoch.</param>
/// <param name="TrainingLoss">The mean training loss over the epoch's steps (training mode, as the steps saw it).</param>
/// <param name="LearningRate">The learning rate of the epoch's last step.</param>
/// <param name="ValidationMetrics">The validation metrics after the epoch; empty without a validation source.</param>
/// <param name="Improved">Whether the selection metric reached a new best at this epoch.</param>
/// <param name="Duration">Wall time of the epoch, validation included.</param>
public sealed record EpochSummary(
    int Epoch,
    double TrainingLoss,
    double LearningRate,
    IReadOnlyDictionary<string, double> ValidationMetrics,
    bool Improved,
    TimeSpan Duration);
