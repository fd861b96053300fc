namespace LieConv.Training;

/// <summary>
/// A batch that can be cut into consecutive runs of its samples, so that a training step can go through it in
/// micro-batches (<see cref="TrainerOptions.MicroBatches"/>, <see cref="MicroBatching"/>).
/// </summary>
/// <typeparam name="TBatch">The batch type itself.</typeparam>
public interface ISliceableBatch<out TBatch>
{
    /// <summary>The number of samples in the batch.</summary>
    long Count { get; }

    /// <summary>Samples <paramref name="start"/> to <paramref name="start"/> + <paramref name="length"/> − 1 as a batch of their own (views where possible, not copies).</summary>
    TBatch Slice(long start, long length);
}
