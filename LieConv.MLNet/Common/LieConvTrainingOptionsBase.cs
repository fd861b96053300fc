using LieConv.Training;
using Microsoft.ML;

namespace LieConv.MLNet;

/// <summary>
/// The optimisation settings every LieConv trainer shares, point-cloud and dynamics alike (reference §5.1,
/// mlnet-conventions.md §9, §10): epochs, batches, Adam and its schedule, validation and weight selection, checkpoints,
/// progress, device, seed and cancellation.
/// </summary>
public abstract class LieConvTrainingOptionsBase
{
    // ----- Training (reference §5.1) -----

    /// <summary>Number of passes over the training data (the cosine schedule spans them).</summary>
    public int Epochs = 3;

    /// <summary>Examples (clouds, systems) per optimiser step.</summary>
    public int BatchSize = 16;

    /// <summary>Adam's base learning rate; a per-step cosine schedule over <see cref="Epochs"/> scales it.</summary>
    public double LearningRate = 3e-3;

    /// <summary>
    /// Length of a linear learning-rate warm-up as a fraction of the epochs (the molecule recipe uses 0.01); 0 for none.
    /// </summary>
    public double WarmupFraction;

    /// <summary>Adam's weight decay (L2); the original uses none.</summary>
    public double WeightDecay;

    /// <summary>
    /// Data evaluated after every epoch (same columns as the training data); its metrics reach <see cref="Progress"/>
    /// and the log, and select the weights when <see cref="EarlyStoppingMetric"/> is set.
    /// </summary>
    public IDataView? ValidationSet;

    /// <summary>
    /// The validation metric that selects the returned weights (those of the best epoch), e.g. "Accuracy" or "MAE";
    /// see each trainer's metric names. <see langword="null"/> returns the last epoch's weights. Needs <see cref="ValidationSet"/>.
    /// </summary>
    public string? EarlyStoppingMetric;

    /// <summary>
    /// Stop after this many validated epochs without improvement of <see cref="EarlyStoppingMetric"/>;
    /// <see langword="null"/> trains every epoch.
    /// </summary>
    public int? Patience;

    /// <summary>
    /// A folder for the run's checkpoint, rewritten atomically (write, then rename) after every epoch; <see langword="null"/>
    /// writes none.
    /// </summary>
    public string? CheckpointDirectory;

    /// <summary>
    /// Continue the run whose checkpoint is in <see cref="CheckpointDirectory"/> when there is one (same data and
    /// settings): weights, optimiser, schedule position and random state are restored, so on the CPU the result
    /// equals an uninterrupted run's. Without a checkpoint, training starts afresh.
    /// </summary>
    public bool ResumeFromCheckpoint;

    /// <summary>
    /// Called on the training thread every <see cref="ReportEvery"/> steps and at every epoch end (with the validation
    /// metrics); also logged to <c>MLContext.Log</c>.
    /// </summary>
    public Action<TrainingProgress>? Progress;

    /// <summary>Steps between progress reports; 0 reports epoch ends only. Each report reads the loss back from the device.</summary>
    public int ReportEvery = 50;

    /// <summary>
    /// "cpu", "cuda" or "cuda:N"; <see langword="null"/> uses <c>MLContext.GpuDeviceId</c> when set (falling back to the
    /// CPU when no GPU is usable and <c>MLContext.FallbackToCpu</c> is on), otherwise the CPU.
    /// </summary>
    public string? Device;

    /// <summary>The seed of weights, shuffling, augmentation and sampling; <see langword="null"/> takes the MLContext's seed, or 1.</summary>
    public int? Seed;

    /// <summary>libtorch's intra-op thread count (process-wide); <see langword="null"/> leaves it as it is.</summary>
    public int? NumberOfThreads;

    /// <summary>
    /// Checked before every batch; cancelling makes <c>Fit</c> throw <see cref="OperationCanceledException"/>, leaving
    /// the checkpoint of the last completed epoch for <see cref="ResumeFromCheckpoint"/>.
    /// </summary>
    public CancellationToken CancellationToken;
}
