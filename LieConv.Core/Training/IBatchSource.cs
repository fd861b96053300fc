namespace LieConv.Training;

/// <summary>
/// Where the trainer gets its batches: a fixed number of batches per epoch, produced on the trainer's device.
/// </summary>
/// <remarks>
/// <para>Shuffling is the source's job and must be a function of (seed, <c>epoch</c>) only — e.g. a .NET
/// <see cref="Random"/> created per epoch from <see cref="Runtime.TorchRuntime.DeriveSeed"/> — so that a resumed run
/// sees the same batches as an uninterrupted one without any source state in the checkpoint.</para>
/// <para>The trainer advances the enumerator inside its per-batch dispose scope: tensors a source creates while
/// producing a batch are freed after that batch's step. Tensors a source keeps across batches (a cached data set)
/// must be created outside any dispose scope, or detached from it.</para>
/// <para>Batches must already be on the device the trainer was given (<see cref="TrainerOptions.Device"/>).</para>
/// </remarks>
/// <typeparam name="TBatch">The batch type the forward function consumes.</typeparam>
public interface IBatchSource<out TBatch>
{
    /// <summary>The number of batches <see cref="Batches"/> yields for every epoch (S in the learning-rate schedule).</summary>
    int BatchesPerEpoch { get; }

    /// <summary>The batches of zero-based epoch <paramref name="epoch"/>, in order.</summary>
    IEnumerable<TBatch> Batches(int epoch);
}
