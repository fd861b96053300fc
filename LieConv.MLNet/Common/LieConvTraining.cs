using LieConv.MLNet.MlNet;
using LieConv.Runtime;
using LieConv.Training;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace LieConv.MLNet;

/// <summary>
/// How every LieConv trainer — point clouds or dynamics — runs the Core <see cref="Trainer{TBatch}"/>: its training
/// options checked and mapped, seed and threads set, progress logged to the channel and forwarded, a checkpoint
/// resumed when asked, and the outcome logged. The trainers differ only in their data and networks.
/// </summary>
internal static class LieConvTraining
{
    /// <summary>Checks the training options, throwing ML.NET's user-argument errors that name the option.</summary>
    /// <param name="host">The trainer's host.</param>
    /// <param name="options">The options.</param>
    /// <param name="metricNames">The trainer's validation metrics (what <c>EarlyStoppingMetric</c> may name).</param>
    /// <param name="example">What one training example is called in messages, e.g. "cloud".</param>
    public static void CheckOptions(IHost host, LieConvTrainingOptionsBase options, IReadOnlyList<string> metricNames, string example)
    {
        host.CheckUserArg(options.Epochs >= 1, nameof(options.Epochs), "At least one epoch is needed.");
        host.CheckUserArg(options.BatchSize >= 1, nameof(options.BatchSize), $"At least one {example} per batch is needed.");
        host.CheckUserArg(options.LearningRate > 0 && double.IsFinite(options.LearningRate), nameof(options.LearningRate), "The learning rate must be positive and finite.");
        host.CheckUserArg(options.WarmupFraction is >= 0 and < 1, nameof(options.WarmupFraction), "The warm-up fraction must lie in [0, 1).");
        host.CheckUserArg(options.WeightDecay >= 0 && double.IsFinite(options.WeightDecay), nameof(options.WeightDecay), "Weight decay must be ≥ 0 and finite.");
        host.CheckUserArg(options.ReportEvery >= 0, nameof(options.ReportEvery), "ReportEvery must be ≥ 0.");
        host.CheckUserArg(options.NumberOfThreads is null or >= 1, nameof(options.NumberOfThreads), "At least one thread is needed.");
        host.CheckUserArg(options.Patience is null or >= 1, nameof(options.Patience), "Patience must be at least one epoch.");
        host.CheckUserArg(options.Patience is null || options.EarlyStoppingMetric is not null, nameof(options.Patience),
            "Early stopping needs an EarlyStoppingMetric to watch.");
        host.CheckUserArg(!options.ResumeFromCheckpoint || options.CheckpointDirectory is not null, nameof(options.ResumeFromCheckpoint),
            "Resuming needs a CheckpointDirectory.");
        if (options.EarlyStoppingMetric is string metric)
        {
            host.CheckUserArg(options.ValidationSet is not null, nameof(options.EarlyStoppingMetric),
                $"Selecting weights by '{metric}' needs a ValidationSet.");
            host.CheckUserArg(metricNames.Contains(metric, StringComparer.Ordinal), nameof(options.EarlyStoppingMetric),
                $"'{metric}' is not a metric of this trainer; expected one of {string.Join(", ", metricNames)}.");
        }
    }

    /// <summary>The run's seed (the options', else the MLContext's, else 1), after setting the thread count if asked.</summary>
    public static int SeedAndThreads(IHost host, LieConvTrainingOptionsBase options)
    {
        if (options.NumberOfThreads is int threads)
            TorchRuntime.SetThreadCount(threads);
        return options.Seed ?? host.GetSeed() ?? 1;
    }

    /// <summary>The Core trainer's settings for these options (reference §5.1: cosine schedule, optional linear warm-up).</summary>
    public static TrainerOptions TrainerOptions(LieConvTrainingOptionsBase options, Device device, int seed) => new()
    {
        Epochs = options.Epochs,
        LearningRate = options.LearningRate,
        WeightDecay = options.WeightDecay,
        Schedule = options.WarmupFraction > 0
            ? new WarmupSchedule(new CosineSchedule(options.Epochs), options.Epochs, options.WarmupFraction)
            : null,
        SelectionMetric = options.EarlyStoppingMetric,
        Patience = options.Patience,
        CheckpointDirectory = options.CheckpointDirectory,
        ReportEvery = options.ReportEvery,
        Device = device,
        Seed = seed,
    };

    /// <summary>
    /// Fits, or resumes when <c>ResumeFromCheckpoint</c> is set and a checkpoint exists, logging every epoch to
    /// <paramref name="ch"/> (steps at trace level) and passing every report to the options' <c>Progress</c>.
    /// </summary>
    /// <param name="ch">The training channel.</param>
    /// <param name="trainer">The prepared trainer.</param>
    /// <param name="options">The options.</param>
    /// <param name="examples">What the examples are called in throughput messages, e.g. "clouds".</param>
    /// <param name="beforeStart">Called with whether the run resumes, just before it starts (e.g. to check the checkpoint's origin).</param>
    public static TrainingResult Run<TBatch>(IChannel ch, Trainer<TBatch> trainer, LieConvTrainingOptionsBase options, string examples,
        Action<bool>? beforeStart = null)
    {
        // The trainer reports synchronously on this thread, so the channel is used from one thread only.
        var progress = new SynchronousProgress(p =>
        {
            if (p.Kind == ProgressKind.EpochEnd)
            {
                string validated = p.ValidationMetrics is { Count: > 0 } m
                    ? ", validation " + string.Join(", ", m.Select(kv => $"{kv.Key} {kv.Value:G6}"))
                    : "";
                ch.Info("Epoch {0}/{1}: training loss {2:G6}{3}, learning rate {4:G4}, {5:F1} {6}/s.",
                    p.Epoch + 1, p.Epochs, p.Loss, validated, p.LearningRate, p.SamplesPerSecond, examples);
            }
            else
            {
                ch.Trace("Epoch {0}, step {1}/{2}: loss {3:G6}, learning rate {4:G4}, {5:F1} {6}/s, ETA {7}.",
                    p.Epoch + 1, p.Step, p.StepsPerEpoch, p.Loss, p.LearningRate, p.SamplesPerSecond, examples, p.EstimatedRemaining);
            }
            options.Progress?.Invoke(p);
        });

        bool resume = options.ResumeFromCheckpoint && trainer.CheckpointPath is string path && File.Exists(path);
        beforeStart?.Invoke(resume);
        if (resume)
            ch.Info("Resuming from the checkpoint {0}.", trainer.CheckpointPath);
        var result = resume ? trainer.Resume(progress, options.CancellationToken) : trainer.Fit(progress, options.CancellationToken);
        if (result.StoppedEarly)
            ch.Info("Stopped early after epoch {0}: {1} did not improve for {2} epochs.", result.CompletedEpochs, options.EarlyStoppingMetric, options.Patience);
        if (result.BestEpoch is int best)
            ch.Info("Kept the weights of epoch {0} ({1} = {2:G6}).", best + 1, options.EarlyStoppingMetric, result.BestValue);
        return result;
    }

    /// <summary>
    /// <see cref="Progress{T}"/> posts to a synchronisation context; ML.NET channels must be called in order from the
    /// training thread, so this one calls back inline.
    /// </summary>
    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
