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
/// <para>Where the gradient by the inputs will itself be differentiated (<see cref="SecondOrderGradients"/>, as in
/// a Hamiltonian network's field), that gradient is one more operation (<see cref="PointConvSumGradient"/>) rather
/// than a graph of plain ones: the graph kept for the second differentiation then holds the incoming gradient
/// (Q, cout) instead of its product with W (Q, cin·16) and the gathered features (Q, k, cin), and the gradients
/// of W and b, which that pass does not ask for, are not computed.</para>
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
        UnusedOutputCopies.Free(apply(features, neighbours, kernel, weight, bias));

    /// <inheritdoc />
    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (features, neighbours, kernel, weight, bias) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4]);
        ctx.save_for_backward([features, neighbours, kernel, weight]);
        ctx.save_data(LeanFirstGradient, SecondOrderGradients.Expected);
        ctx.set_materialize_grads(false);   // no gradient arrives as none (see PointConvSumGradient)
        UnusedOutputCopies.Expect(ctx);
        // The gathered features, the largest tensor of the layer, are freed before the dense layer runs.
        using var scope = NewDisposeScope();
        Tensor products;
        using (var gathered = Gather(features, neighbours))
        using (var columns = gathered.transpose(1, 2))
            products = matmul(columns, kernel);                                                   // (Q, cin, 16)
        using (products)
        using (var flat = products.view(neighbours.shape[0], -1))
            return addmm(bias, flat, weight.t(), 1, 1).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput) =>
        CustomBackward.Run(gradOutput, 5, () => Differentiate(ctx, gradOutput), () => [empty(0), null!, empty(0), empty(0), empty(0)]);

    /// <summary>Whether the first differentiation of this node is the marked one, by the inputs (see <see cref="SecondOrderGradients"/>).</summary>
    private const string LeanFirstGradient = "lean first gradient";

    private static List<Tensor> Differentiate(AutogradContext ctx, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var (features, neighbours, kernel, weight) = (saved[0], saved[1], saved[2], saved[3]);
        bool lean = (bool)ctx.get_data(LeanFirstGradient) && is_grad_enabled();
        ctx.save_data(LeanFirstGradient, false);   // later differentiations (the loss's) want every gradient
        if (lean)
        {
            // The gradient by the inputs whose graph is kept (a Hamiltonian field): one lean operation.
            var inputGradients = PointConvSumGradient.Compute(gradOutput, features, neighbours, kernel, weight);
            scope.MoveToOuter(inputGradients);
            gradOutput.Dispose();
            return [inputGradients[0], null!, inputGradients[1], null!, null!];
        }
        // Each of the layer's large temporaries is freed as soon as the next no longer needs it — every view of it
        // too, since a view keeps the memory alive: at most three are alive at once, not five (first SE(2) layer:
        // 222 instead of 392 MB; the step's resident peak lies elsewhere and did not move).
        long queries = neighbours.shape[0], cin = features.shape[1];
        var gathered = Gather(features, neighbours);                                              // (Q, k, cin)
        Tensor products, productsGrad, gatheredGrad, weightGrad;
        using (var columns = gathered.transpose(1, 2)) products = matmul(columns, kernel);        // (Q, cin, 16)
        using (products)
        using (var flat = products.view(queries, -1))
            weightGrad = gradOutput.t().mm(flat);
        var biasGrad = gradOutput.sum(0L, false);
        using (var flat = gradOutput.mm(weight)) productsGrad = flat.view(queries, cin, -1);     // (Q, cin, 16)
        var kernelGrad = matmul(gathered, productsGrad);                                          // (Q, k, 16)
        gathered.Dispose();
        using (productsGrad)
        using (var rows = productsGrad.transpose(1, 2))
            gatheredGrad = matmul(kernel, rows);                                                  // (Q, k, cin)
        var featuresGrad = AddRows(features, neighbours, gatheredGrad);
        gatheredGrad.Dispose();
        scope.MoveToOuter(featuresGrad, kernelGrad, weightGrad, biasGrad);
        gradOutput.Dispose();
        return [featuresGrad, null!, kernelGrad, weightGrad, biasGrad];
    }

    /// <summary>(Q, k, cin) the feature rows of every query's neighbours.</summary>
    internal static Tensor Gather(Tensor features, Tensor neighbours)
    {
        // The view alone holds the rows, so that disposing it frees them.
        using var flatIndex = neighbours.flatten();
        using var rows = features.index_select(0, flatIndex);
        return rows.view(neighbours.shape[0], neighbours.shape[1], features.shape[1]);
    }

    /// <summary>The reverse of <see cref="Gather"/>: (N, cin) zeros with each (query, neighbour) row of <paramref name="rows"/> (Q, k, cin) added at its point.</summary>
    internal static Tensor AddRows(Tensor features, Tensor neighbours, Tensor rows)
    {
        using var flatIndex = neighbours.flatten();
        using var flatRows = rows.reshape(-1, features.shape[1]);
        return IndexedRowSum.Compute(features.shape[0], flatIndex, flatRows);
    }
}

/// <summary>
/// The gradients of <see cref="PointConvSum"/> by its features and kernel values for an incoming gradient g (Q, cout),
/// as one autograd operation, for gradients that are differentiated again: with P = g·W viewed as (Q, cin, 16) and
/// the gathered features F (Q, k, cin), the kernel's gradient is F·P and the features' the rows of kernel·Pᵀ added
/// back to their points.
/// </summary>
/// <remarks>
/// It keeps its inputs, most of which the forward pass keeps anyway, and forms P and F again when it is itself
/// differentiated; written out of plain operations, the graph would keep P and F, the largest tensors of the
/// layer's gradient, until the second differentiation. Its backward is made of plain operations (a third
/// derivative works, with their graph).
/// </remarks>
internal sealed class PointConvSumGradient : MultiTensorFunction<PointConvSumGradient>
{
    /// <inheritdoc />
    public override string Name => nameof(PointConvSumGradient);

    /// <summary>[features' gradient (N, cin), kernel's gradient (Q, k, 16)] for the incoming gradient <paramref name="gradOutput"/> (Q, cout).</summary>
    public static List<Tensor> Compute(Tensor gradOutput, Tensor features, Tensor neighbours, Tensor kernel, Tensor weight) =>
        UnusedOutputCopies.Free(apply(gradOutput, features, neighbours, kernel, weight));

    /// <inheritdoc />
    public override List<Tensor> forward(AutogradContext ctx, params object[] vars)
    {
        var (gradOutput, features, neighbours, kernel, weight) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4]);
        ctx.save_for_backward([gradOutput, features, neighbours, kernel, weight]);
        // An output the loss does not use arrives as no gradient rather than zeros (TorchSharp's zeros would be made
        // from a copy of the output that this operation's caller has disposed by then).
        ctx.set_materialize_grads(false);
        UnusedOutputCopies.Expect(ctx);
        using var scope = NewDisposeScope();
        var products = Products(gradOutput, weight, features.shape[1]);                                // (Q, cin, 16)
        var kernelGrad = matmul(PointConvSum.Gather(features, neighbours), products);                    // (Q, k, 16)
        var featuresGrad = PointConvSum.AddRows(features, neighbours, matmul(kernel, products.transpose(1, 2)));
        scope.MoveToOuter(featuresGrad, kernelGrad);
        return [featuresGrad, kernelGrad];
    }

    /// <inheritdoc />
    public override List<Tensor> backward(AutogradContext ctx, List<Tensor> gradOutputs) =>
        CustomBackward.Run(() => Differentiate(ctx, gradOutputs[0], gradOutputs[1]),
            () => [empty(0), empty(0), null!, empty(0), empty(0)]);

    private static List<Tensor> Differentiate(AutogradContext ctx, Tensor featuresGradGrad, Tensor kernelGradGrad)
    {
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var (gradOutput, features, neighbours, kernel, weight) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
        long queries = neighbours.shape[0], cin = features.shape[1];
        var products = Products(gradOutput, weight, cin);                                               // P (Q, cin, 16)
        var gathered = PointConvSum.Gather(features, neighbours);                                       // F (Q, k, cin)
        // An output the loss does not use brings no gradient: zeros in its place.
        var rowsGrad = featuresGradGrad.IsInvalid ? zeros_like(gathered) : PointConvSum.Gather(featuresGradGrad, neighbours);   // (Q, k, cin)
        var kernelGradGradOrZero = kernelGradGrad.IsInvalid ? zeros_like(kernel) : kernelGradGrad;
        // kernel gradient F·P, features gradient Σ rows of kernel·Pᵀ: each term's derivative in turn.
        var productsGrad = matmul(gathered.transpose(1, 2), kernelGradGradOrZero) + matmul(rowsGrad.transpose(1, 2), kernel);
        var kernelGrad = matmul(rowsGrad, products);
        var featuresGrad = PointConvSum.AddRows(features, neighbours, matmul(kernelGradGradOrZero, products.transpose(1, 2)));
        var flatProductsGrad = productsGrad.reshape(queries, -1);                                       // (Q, cin·16)
        var gradOutputGrad = flatProductsGrad.mm(weight.t());
        var weightGrad = gradOutput.t().mm(flatProductsGrad);
        scope.MoveToOuter(gradOutputGrad, featuresGrad, kernelGrad, weightGrad);
        featuresGradGrad.Dispose();
        kernelGradGrad.Dispose();
        return [gradOutputGrad, featuresGrad, null!, kernelGrad, weightGrad];
    }

    /// <summary>P = g·W viewed as (Q, cin, 16).</summary>
    private static Tensor Products(Tensor gradOutput, Tensor weight, long inChannels) =>
        gradOutput.mm(weight).view(gradOutput.shape[0], inChannels, -1);
}
