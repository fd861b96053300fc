using LieConv.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace LieConv.Nn;

/// <summary>
/// Rows of a table by index (<c>index_select</c> along the first dimension) whose gradient adds the incoming rows
/// back with <see cref="IndexedRowSum"/>'s one pass instead of libtorch's sorting <c>index_add_</c>.
/// </summary>
/// <remarks>
/// A shared kernel table is read once per (cloud, query, neighbour): on RotMNIST T(2)'s first layer 405k reads of 16
/// channels from about 12k distinct rows, whose gradient libtorch adds by sorting every read's index first. Where the
/// gradient itself must be differentiable (its graph recorded), <see cref="IndexedRowSum"/> hands the sum back to
/// libtorch, so second derivatives stay right.
/// </remarks>
internal sealed class IndexedRows : SingleTensorFunction<IndexedRows>
{
    /// <inheritdoc />
    public override string Name => nameof(IndexedRows);

    /// <summary>(M, C): row <paramref name="index"/>[i] of <paramref name="table"/> (R, C) as row i.</summary>
    public static Tensor Select(Tensor table, Tensor index) =>
        table.requires_grad && is_grad_enabled() && HostReads.AreFree(table) && table.dim() == 2
            ? UnusedOutputCopies.Free(apply(table, index))
            : table.index_select(0, index);

    /// <inheritdoc />
    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (table, index) = ((Tensor)vars[0], (Tensor)vars[1]);
        ctx.save_for_backward([index]);
        ctx.save_data(Rows, table.shape[0]);
        ctx.set_materialize_grads(false);
        UnusedOutputCopies.Expect(ctx);
        return table.index_select(0, index);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput) =>
        CustomBackward.Run(gradOutput, 2, () =>
        {
            using var scope = NewDisposeScope();
            var sum = IndexedRowSum.Compute((long)ctx.get_data(Rows), ctx.get_saved_variables()[0], gradOutput);
            scope.MoveToOuter(sum);
            gradOutput.Dispose();   // as large as the reads: freed now rather than with the training step
            return [sum, null!];
        }, () => [empty(0), null!]);

    private const string Rows = "rows";
}
