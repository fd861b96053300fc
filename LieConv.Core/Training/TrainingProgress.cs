namespace LieConv.Training;

/// <summary>
/// A progress report. Reports are made synchronously on the training thread, outside the trainer's per-batch dispose
/// scopes, so a handler may keep tensors it creates (an <see cref="IProgress{T}"/> like <see cref="Progress{T}"/> posts
/// reports on, possibly later, and would see the model in a later state).
/// </summary>
/// <param name="Kind">A step report or an epoch end.</param>
/// <param name="Epoch">The zero-based epoch.</param>
/// <param name="Epochs">The number of epochs in the run.</param>
/// <param name="Step">Optimiser steps completed in this epoch.</param>
/// <param name="StepsPerEpoch">Optimiser steps per epoch.</param>
/// <param name="GlobalStep">Optimiser steps completed in the whole run.</param>
/// <param name="Loss">Step reports: the mean training loss of the steps since the previous report. Epoch ends: the epoch's mean training loss.</param>
/// <param name="LearningRate">Step reports: the learning rate of the last step. Epoch ends: the learning rate of the next step.</param>
/// <param name="ValidationMetrics">The validation metrics at an epoch end (when there is a validation source); null otherwise.</param>
/// <param name="BestEpoch">The zero-based epoch with the best selection metric so far, if any.</param>
/// <param name="SamplesPerSecond">Training throughput since the previous step report (epoch ends: over the epoch's steps).</param>
/// <param name="Elapsed">Wall time of this session (a resumed run counts from the resume).</param>
/// <param name="EstimatedRemaining">Remaining time at this session's average pace (validation included); null before the first step.</param>
public sealed record TrainingProgress(
    ProgressKind Kind,
    int Epoch,
    int Epochs,
    int Step,
    int StepsPerEpoch,
    long GlobalStep,
    double Loss,
    double LearningRate,
    IReadOnlyDictionary<string, double>? ValidationMetrics,
    int? BestEpoch,
    double SamplesPerSecond,
    TimeSpan Elapsed,
    TimeSpan? EstimatedRemaining);
