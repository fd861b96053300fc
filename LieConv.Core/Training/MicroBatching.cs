using LieConv.Nn;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Training;

/// <summary>
/// One training step's forward and backward passes over a batch in consecutive micro-batches, each freed before the
/// next starts: the parameters' gradients add up to the whole batch's, while only one micro-batch's autograd graph
/// is held at a time.
/// </summary>
/// <remarks>
/// <para>The gradient is the whole batch's (up to the order of float additions) when the loss is a mean over the
/// batch's samples — each micro-batch's mean loss is weighted by its share of the samples — and no layer couples the
/// samples of a batch. Batch norm does (its statistics are the batch's), so a model with one is refused.</para>
/// <para>For the Hamiltonian networks, whose steps keep the graphs of all 16 field evaluations with the gradient of H
/// inside each for the loss's second differentiation, two micro-batches of the springs batch of 200 hold half the
/// graph; a training-mode forward pass still adapts ball radii once per micro-batch, each from its own samples' fill
/// (those of the dynamics networks, fill 1, only grow until every particle is in every ball).</para>
/// </remarks>
public static class MicroBatching
{
    /// <summary>
    /// Runs <paramref name="forward"/> and the backward pass of its loss on each of <paramref name="microBatches"/>
    /// consecutive slices of <paramref name="batch"/> (sizes differ by at most one; at most one sample each), adding
    /// the parameters' gradients; returns the predictions joined along the first dimension and the whole batch's loss,
    /// both detached.
    /// </summary>
    /// <param name="batch">The batch.</param>
    /// <param name="microBatches">How many slices (1: the batch at once).</param>
    /// <param name="forward">The trainer's forward function; its loss must be the mean over the slice's samples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="microBatches"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The batch is empty.</exception>
    public static BatchOutput ForwardBackward<TBatch>(TBatch batch, int microBatches, Func<TBatch, BatchOutput> forward)
        where TBatch : ISliceableBatch<TBatch>
    {
        ArgumentNullException.ThrowIfNull(batch);
        return Run(batch, microBatches, forward);
    }

    /// <summary>Throws when <paramref name="model"/> has a layer whose output depends on the other samples of its batch.</summary>
    /// <exception cref="ArgumentException">The model has batch norm.</exception>
    public static void CheckSamplesIndependent(TorchSharp.torch.nn.Module model, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var (name, module) in model.named_modules())
            if (module is MaskedBatchNorm or TorchSharp.Modules.BatchNorm)
                throw new ArgumentException(
                    $"Micro-batches need a model whose samples do not interact, but its layer '{name}' is a batch norm ({module.GetType().Name}): " +
                    "its statistics would be each micro-batch's instead of the batch's. Use one micro-batch, or a model without batch norm.", parameterName);
    }

    internal static BatchOutput Run<TBatch>(ISliceableBatch<TBatch> batch, int microBatches, Func<TBatch, BatchOutput> forward)
    {
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentOutOfRangeException.ThrowIfLessThan(microBatches, 1);
        long total = batch.Count;
        if (total < 1) throw new ArgumentException("The batch has no samples to split into micro-batches.", nameof(batch));
        long parts = Math.Min(microBatches, total);
        Tensor? loss = null;
        var predictions = new List<Tensor>((int)parts);
        long start = 0;
        for (long i = 0; i < parts; i++)
        {
            long length = total / parts + (i < total % parts ? 1 : 0);
            using (var scope = NewDisposeScope())   // the slice's graph goes before the next slice builds its own
            {
                var output = forward(batch.Slice(start, length));
                var share = parts == 1 ? output.Loss : output.Loss * ((double)length / total);
                CustomBackward.Call(() => share.backward());
                var detached = share.detach();
                if (loss is null) loss = detached.MoveToOuterDisposeScope();
                else loss.add_(detached);
                predictions.Add(output.Prediction.detach().MoveToOuterDisposeScope());
            }
            start += length;
        }
        return new BatchOutput(predictions.Count == 1 ? predictions[0] : cat(predictions, dim: 0), loss!);
    }
}
