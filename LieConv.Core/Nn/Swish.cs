using LieConv.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace LieConv.Nn;

/// <summary>
/// Swish, σ(x) = x·s(x) with s the logistic sigmoid, as an autograd operation whose gradient is one operation too
/// (<see cref="SwishGradient"/>), for networks whose gradients are themselves differentiated (Hamiltonian fields).
/// </summary>
/// <remarks>
/// libtorch differentiates its own silu, when the gradient must stay differentiable, as the formula
/// g·s·(1 + x·(1 − s)) of five elementwise operations, and the graph of that gradient keeps about five tensors of
/// the activation's size for the loss's second differentiation. Here the gradient's graph keeps g alone (x is the
/// forward pass's own input): a fifth of the memory, and fewer passes. A first-order backward pass computes the
/// same formula without a graph.
/// </remarks>
internal sealed class Swish : SingleTensorFunction<Swish>
{
    /// <inheritdoc />
    public override string Name => nameof(Swish);

    /// <summary>x·s(x).</summary>
    public static Tensor Compute(Tensor x) => UnusedOutputCopies.Free(apply(x));

    /// <inheritdoc />
    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        ctx.save_for_backward([x]);
        ctx.set_materialize_grads(false);   // no gradient arrives as none (see PointConvSumGradient)
        UnusedOutputCopies.Expect(ctx);
        return nn.functional.silu(x);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput) =>
        CustomBackward.Run(gradOutput, 1, () =>
        {
            var x = ctx.get_saved_variables()[0];
            var gradient = SwishGradient.Compute(gradOutput, x);
            gradOutput.Dispose();
            return [gradient];
        }, () => [empty(0)]);
}

/// <summary>
/// g·σ′(x) with σ′(x) = s·(1 + x·(1 − s)): the gradient of <see cref="Swish"/>, differentiable in g and x with
/// σ″(x) = s·(1 − s)·(2 + x·(1 − 2s)).
/// </summary>
internal sealed class SwishGradient : SingleTensorFunction<SwishGradient>
{
    /// <inheritdoc />
    public override string Name => nameof(SwishGradient);

    /// <summary>g·σ′(x): as an autograd operation where gradients are recorded, else plainly (no node to build).</summary>
    public static Tensor Compute(Tensor gradient, Tensor x) => is_grad_enabled() ? UnusedOutputCopies.Free(apply(gradient, x)) : Value(gradient, x);

    /// <inheritdoc />
    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (gradient, x) = ((Tensor)vars[0], (Tensor)vars[1]);
        ctx.save_for_backward([gradient, x]);
        ctx.set_materialize_grads(false);
        UnusedOutputCopies.Expect(ctx);
        return Value(gradient, x);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput) =>
        CustomBackward.Run(gradOutput, 2, () =>
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (gradient, x) = (saved[0], saved[1]);
            var s = x.sigmoid();
            Tensor gradientGrad, xGrad;
            if (is_grad_enabled())
            {
                // Plain operations, differentiable again: a third derivative is being asked for.
                gradientGrad = gradOutput * s * (x * (1 - s) + 1);
                xGrad = gradOutput * gradient * s * (1 - s) * (2 + x * (1 - 2 * s));
            }
            else
            {
                // The usual case (the loss's backward pass): as few passes and buffers as the two formulas allow.
                var r = s.neg().add_(1);                                       // 1 − s
                var xr = x.mul(r);                                             // x·(1 − s)
                gradientGrad = xr.add(1).mul_(s).mul_(gradOutput);             // g′·σ′(x)
                xGrad = xr.sub_(x.mul(s)).add_(2).mul_(s).mul_(r).mul_(gradOutput).mul_(gradient);   // g′·g·σ″(x)
            }
            scope.MoveToOuter(gradientGrad, xGrad);
            gradOutput.Dispose();
            return [gradientGrad, xGrad];
        }, () => [empty(0), empty(0)]);

    /// <summary>g·σ′(x), freeing its temporaries at once.</summary>
    private static Tensor Value(Tensor gradient, Tensor x)
    {
        using var scope = NewDisposeScope();
        return gradient.mul(Derivative(x)).MoveToOuterDisposeScope();
    }

    /// <summary>σ′(x) = s·(1 + x·(1 − s)).</summary>
    private static Tensor Derivative(Tensor x)
    {
        var s = x.sigmoid();
        return is_grad_enabled() ? s * (x * (1 - s) + 1) : s.neg().add_(1).mul_(x).add_(1).mul_(s);
    }
}
