using LieConv.Runtime;

namespace LieConv.Training;

/// <summary>
/// A batch source over <c>count</c> samples addressed by index: each epoch it (optionally) shuffles the indices with
/// a permutation drawn from (seed, epoch), cuts them into batches and lets a callback build each batch.
/// </summary>
/// <typeparam name="TBatch">The batch type.</typeparam>
public sealed class IndexBatchSource<TBatch> : IBatchSource<TBatch>
{
    private readonly Func<int[], TBatch> createBatch;

    /// <summary>A source over samples 0 … <paramref name="count"/> − 1.</summary>
    /// <param name="count">The number of samples.</param>
    /// <param name="batchSize">The nominal batch size.</param>
    /// <param name="createBatch">Builds a batch (on the trainer's device) from sample indices; called inside the trainer's per-batch dispose scope.</param>
    /// <param name="shuffle">Whether to visit the samples in a fresh random order each epoch.</param>
    /// <param name="seed">Fixes the permutations: epoch e uses <c>TorchRuntime.CreateRandom(seed, "shuffle/e")</c>.</param>
    /// <param name="dropLast">Whether to drop a last batch shorter than <paramref name="batchSize"/> (the molecule recipe does).</param>
    public IndexBatchSource(int count, int batchSize, Func<int[], TBatch> createBatch, bool shuffle = true, long seed = 0, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentNullException.ThrowIfNull(createBatch);
        if (dropLast && count < batchSize)
            throw new ArgumentException($"With dropLast, {count} samples make no batch of {batchSize}.", nameof(dropLast));
        Count = count;
        BatchSize = batchSize;
        this.createBatch = createBatch;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
    }

    /// <summary>The number of samples.</summary>
    public int Count { get; }

    /// <summary>The nominal batch size.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits the samples in a new random order.</summary>
    public bool Shuffle { get; }

    /// <summary>The seed of the permutations.</summary>
    public long Seed { get; }

    /// <summary>Whether a short last batch is dropped.</summary>
    public bool DropLast { get; }

    /// <inheritdoc />
    public int BatchesPerEpoch => DropLast ? Count / BatchSize : (Count + BatchSize - 1) / BatchSize;

    /// <summary>The sample order of epoch <paramref name="epoch"/> (all samples, before dropping a short last batch).</summary>
    public int[] Order(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var order = Enumerable.Range(0, Count).ToArray();
        if (Shuffle) TorchRuntime.CreateRandom(Seed, $"shuffle/{epoch}").Shuffle(order);
        return order;
    }

    /// <inheritdoc />
    public IEnumerable<TBatch> Batches(int epoch)
    {
        var order = Order(epoch);
        int batches = BatchesPerEpoch;
        for (int b = 0; b < batches; b++)
        {
            int start = b * BatchSize;
            yield return createBatch(order[start..Math.Min(start + BatchSize, Count)]);
        }
    }
}
