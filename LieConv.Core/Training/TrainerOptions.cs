using static TorchSharp.torch;

namespace LieConv.Training;

/// <summary>Settings of a <see cref="Trainer{TBatch}"/> run (reference §5.1 defaults where the original has them).</summary>
public sealed record TrainerOptions
{
    /// <summary>The number of epochs (L).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>The base learning rate; the schedule multiplies it.</summary>
    public double LearningRate { get; init; } = 3e-3;

    /// <summary>The learning-rate schedule; null means <see cref="CosineSchedule"/> over <see cref="Epochs"/> (every recipe's).</summary>
    public ILearningRateSchedule? Schedule { get; init; }

    /// <summary>Adam's β₁.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam's β₂.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Adam's ε.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Adam's (L2) weight decay; the original uses none.</summary>
    public double WeightDecay { get; init; }

    /// <summary>
    /// The validation metric that selects the best weights (oil's early_stop_metric, e.g. "MAE"); null keeps the last
    /// weights. Needs a validation source that reports a metric of this name.
    /// </summary>
    public string? SelectionMetric { get; init; }

    /// <summary>Whether <see cref="SelectionMetric"/> is minimised or maximised; Auto infers it from the name.</summary>
    public MetricDirection SelectionDirection { get; init; } = MetricDirection.Auto;

    /// <summary>
    /// Stop after this many consecutive validated epochs without a strict improvement of <see cref="SelectionMetric"/>;
    /// null trains all epochs (the original has no early stopping, only best-weight selection).
    /// </summary>
    public int? Patience { get; init; }

    /// <summary>Whether to load the best weights into the model when training ends (when a selection metric is set).</summary>
    public bool RestoreBestWeights { get; init; } = true;

    /// <summary>
    /// The folder for the run's checkpoint (<see cref="TrainingCheckpoint.FileName"/>), rewritten atomically at the start
    /// and after every epoch; null writes none (and <see cref="Trainer{TBatch}.Resume"/> is unavailable).
    /// </summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>
    /// Report progress every this many optimiser steps (plus the first step of a session and every epoch end); 0
    /// reports epoch ends only. Each step report reads the loss back to the host — the only sync in a step.
    /// </summary>
    /// <remarks>
    /// oil logs on a timer instead and, for each log, runs an extra forward pass in training mode to get a minibatch
    /// loss, which moves batch-norm statistics and neighbourhood radii (reference §5.1, §7.7). We report the mean loss
    /// of the steps actually taken, so reporting never changes the model.
    /// </remarks>
    public int ReportEvery { get; init; } = 50;

    /// <summary>The device the model is moved to and the batches must be on; null means the CPU.</summary>
    public Device? Device { get; init; }

    /// <summary>
    /// Split every training batch into this many micro-batches, each run forward and backward on its own before the one
    /// optimiser step (<see cref="MicroBatching"/>): the same gradient with a fraction of the memory. Above 1 the batch
    /// type must implement <see cref="ISliceableBatch{TBatch}"/> and the model must have no batch norm.
    /// </summary>
    public int MicroBatches { get; init; } = 1;

    /// <summary>When set, <see cref="Trainer{TBatch}.Fit"/> seeds libtorch's generators with it first (a resumed run restores the generator state instead).</summary>
    public long? Seed { get; init; }

    /// <summary>The schedule in effect.</summary>
    public ILearningRateSchedule EffectiveSchedule => Schedule ?? new CosineSchedule(Epochs);

    /// <summary>Checks the settings, naming the first one that is out of range.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "At least one epoch is needed.");
        if (!(LearningRate >= 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be ≥ 0 and finite.");
        if (!(Beta1 is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "β₁ must lie in [0, 1).");
        if (!(Beta2 is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "β₂ must lie in [0, 1).");
        if (!(Epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "ε must be positive.");
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be ≥ 0.");
        if (Patience is < 1) throw new ArgumentOutOfRangeException(nameof(Patience), Patience, "Patience must be at least 1 epoch.");
        if (Patience is not null && SelectionMetric is null) throw new ArgumentException("Early stopping (Patience) needs a SelectionMetric to watch.", nameof(Patience));
        if (MicroBatches < 1) throw new ArgumentOutOfRangeException(nameof(MicroBatches), MicroBatches, "At least one micro-batch is needed.");
        if (ReportEvery < 0) throw new ArgumentOutOfRangeException(nameof(ReportEvery), ReportEvery, "ReportEvery must be ≥ 0.");
        if (SelectionMetric is not null) MetricDirections.Resolve(SelectionMetric, SelectionDirection);
    }
}
