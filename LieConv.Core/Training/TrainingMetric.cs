using static TorchSharp.torch;

namespace LieConv.Training;

/// <summary>A named evaluation metric: the mean over one batch, computed from the batch and the network's output.</summary>
/// <param name="Name">The name under which the metric is reported (e.g. "Acc", "MAE").</param>
/// <param name="Compute">The batch mean as a one-element tensor; runs in eval mode without gradients.</param>
/// <typeparam name="TBatch">The batch type.</typeparam>
public sealed record TrainingMetric<TBatch>(string Name, Func<TBatch, BatchOutput, Tensor> Compute)
{
    /// <summary>The forward function's own loss as a metric (e.g. to select weights by validation loss).</summary>
    public static TrainingMetric<TBatch> Loss(string name = "Loss") => new(name, static (_, output) => output.Loss);
}
