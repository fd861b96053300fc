using LieConv.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace LieConv.Nn;

/// <summary>
/// PointConv's trick (reference §2.5) as one autograd operation: out_q = W·vec(Σ_j f(v_qj) ⊗ k_qj) + b, for each
/// query q over its neighbours v_q1…v_qk, with the kernel values k_qj (16 per pair) and the features f read from
/// the layer's input by index.
/// </summary>
/// <remarks>
/// Written out of plain operations, the features gathered for every (query, neighbour) pair — the largest tensor of
/// a layer, k times its input — stay alive from the forward pass to the backward pass, because the batched product
/// keeps its operands. This operation keeps the layer's input and the indices instead and gathers again when the
/// gradients need it: one extra row copy and batched product per layer in the backward pass, for the memory of the
/// gathered features. Counted at the allocator, the memory a training step holds at its peak above what it starts
/// with fell from 511 to 346 MB on RotMNIST T(2) and from 673 to 474 MB on QM9 T(3), at the same step time. The
/// backward pass is itself made of differentiable operations on the saved inputs, so gradients of gradients
/// (Hamiltonian networks) are right.
/// </remarks>
internal sealed class PointConvSum : SingleTensorFunction<PointConvSum>
{
    /// <inheritdoc />
    public override string Name => nameof(PointConvSum);

    /// <summary>
    /// (Q, cout) the layer's output at Q queries: <paramref name="features"/> (N, cin) is the input,
    /// <paramref name="neighbours"/> (Q, k) the rows of each query's neighbours in it, <paramref name="kernel"/>
    /// (Q, k, 16) the kernel values (zero at neighbours that do not count), <paramref name="weight"/> (cout, cin·16)
    /// and <paramref name="bias"/> (cout) the dense layer.
    /// </summary>
    public static Tensor Compute(Tensor features, Tensor neighbours, Tensor kernel, Tensor weight, Tensor bias) =>
        apply(features, neighbours, kernel, weight, bias);

    /// <inheritdoc />
    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (features, neighbours, kernel, weight, bias) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4]);
        ctx.save_for_backward([features, neighbours, kernel, weight]);
        // Its own scope: the views of the gathered features and products would otherwise keep them until the block ends.
        using var scope = NewDisposeScope();
        var products = matmul(Gather(features, neighbours).transpose(1, 2), kernel).view(neighbours.shape[0], -1);   // (Q, cin·16)
        return addmm(bias, products, weight.t(), 1, 1).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput) =>
        CustomBackward.Run(() => Differentiate(ctx, gradOutput), () => [empty(0), null!, empty(0), empty(0), empty(0)]);

    private static List<Tensor> Differentiate(AutogradContext ctx, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var (features, neighbours, kernel, weight) = (saved[0], saved[1], saved[2], saved[3]);
        long queries = neighbours.shape[0], cin = features.shape[1];
        var gathered = Gather(features, neighbours);                                              // (Q, k, cin)
        var products = matmul(gathered.transpose(1, 2), kernel);                                  // (Q, cin, 16)
        var weightGrad = gradOutput.t().mm(products.view(queries, -1));
        var biasGrad = gradOutput.sum(0L, false);
        var productsGrad = gradOutput.mm(weight).view(queries, cin, -1);                          // (Q, cin, 16)
        var kernelGrad = matmul(gathered, productsGrad);                                          // (Q, k, 16)
        var gatheredGrad = matmul(kernel, productsGrad.transpose(1, 2));                          // (Q, k, cin)
        var featuresGrad = zeros_like(features).index_add_(0, neighbours.flatten(), gatheredGrad.view(-1, cin), 1);
        scope.MoveToOuter(featuresGrad, kernelGrad, weightGrad, biasGrad);
        gradOutput.Dispose();
        return [featuresGrad, null!, kernelGrad, weightGrad, biasGrad];
    }

    /// <summary>(Q, k, cin) the feature rows of every query's neighbours.</summary>
    private static Tensor Gather(Tensor features, Tensor neighbours) =>
        features.index_select(0, neighbours.flatten()).view(neighbours.shape[0], neighbours.shape[1], features.shape[1]);
}
