using LieConv.Runtime;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace LieConv.Nn;

/// <summary>
/// A batch-normalised kernel network (<see cref="WeightNet"/>: Linear → BN → act, three times) as one autograd
/// operation that keeps only each layer's normalised pre-activation x̂ = (z − μ)/σ and forms the rest again in the
/// backward pass.
/// </summary>
/// <remarks>
/// <para>The kernel network runs on every (query, neighbour) pair, so its activations are the largest tensors a
/// training step keeps: written out of libtorch's modules, autograd keeps three tensors of each hidden layer's width
/// per pair — the dense layer's output (batch norm's input), batch norm's output (the activation's input) and the
/// activation (the next dense layer's input) — and the masked statistics' formula two more. Here one is kept: x̂,
/// from which y = γ·x̂ + β, the activation and its derivative follow by elementwise operations, one layer at a time,
/// so the backward pass never holds more than one layer's recomputed tensors; the first layer's x̂ not even that, as
/// it follows from the pairs (three numbers each for SE(2), against 32).</para>
/// <para>With the batch statistics (training) and row weights w (the mask, or how many neighbourhoods use a pair;
/// W = Σ w), the gradient of batch norm is, per channel,
/// ∂z = γ/σ·(∂y − w/W·(Σ ∂y + x̂·Σ ∂y·x̂)), the last term absent where σ is clamped at √ε; with the running statistics
/// (evaluation) ∂z = γ/σ·∂y. The dense layers' gradients are the usual ones, with each layer's input formed again
/// from the x̂ below it. On the CPU in float32, networks of 2¹⁷ pairs and more run forward and backward as
/// <see cref="KernelNetworkPasses"/>: a pass over the rows a layer, each row through the dense layer in registers;
/// others as libtorch's operations, each elementwise step written over a tensor of its own where it can.</para>
/// <para>Where the gradient is itself differentiated (gradients of gradients with the graph kept), the backward pass
/// forms every layer again from the operation's inputs with plain operations, the statistics included, and writes
/// the same formulas with them, so that second derivatives are exact. The Hamiltonian networks' marked route
/// (<see cref="SecondOrderGradients"/>) does not come here: it keeps the plain modules.</para>
/// </remarks>
internal sealed class WeightNetFunction : SingleTensorFunction<WeightNetFunction>
{
    /// <inheritdoc />
    public override string Name => nameof(WeightNetFunction);

    /// <summary>One layer: the dense layer and the batch norm after it.</summary>
    internal sealed record Layer(TorchSharp.Modules.Linear Linear, MaskedBatchNorm Norm);

    /// <summary>How the operation was called, beyond its tensors.</summary>
    private sealed record Settings(int Layers, Activation Activation, bool BatchStatistics, bool PairsNeedGradient);

    /// <summary>
    /// The network's output (N, C_out) for <paramref name="pairs"/> (N, D): <paramref name="rowWeights"/> (N) weighs
    /// each row in the batch statistics (null: every row once); batch statistics in training mode (updating the
    /// running ones, as <see cref="MaskedBatchNorm"/> does), running statistics otherwise.
    /// </summary>
    public static Tensor Compute(Tensor pairs, Tensor? rowWeights, IReadOnlyList<Layer> layers, Activation activation, bool training)
    {
        var vars = new List<object?> { pairs, rowWeights };
        foreach (var layer in layers) vars.AddRange([layer.Linear.weight, layer.Linear.bias, layer.Norm.Weight, layer.Norm.Bias]);
        vars.Add(new Settings(layers.Count, activation, training, pairs.requires_grad));
        vars.Add(layers);   // for their statistics (MaskedBatchNorm.Statistics, which updates the running ones)
        return UnusedOutputCopies.Free(apply(vars.ToArray()!));
    }

    private const string SettingsKey = "settings";

    /// <inheritdoc />
    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (pairs, rowWeights, settings, layers) = ((Tensor)vars[0], vars[1] as Tensor, (Settings)vars[^2], (IReadOnlyList<Layer>)vars[^1]);
        var saved = new List<Tensor> { pairs, rowWeights! };
        var parameters = vars.Skip(2).Take(4 * settings.Layers).Cast<Tensor>().ToList();
        using var scope = NewDisposeScope();
        var a = pairs;
        if (KernelNetworkPasses.Take(pairs, rowWeights, parameters))
        {
            var passes = KernelNetworkPasses.Forward(pairs, rowWeights, parameters, layers.Select(layer => layer.Norm).ToList(), settings.Activation, settings.BatchStatistics);
            for (int l = 0; l < settings.Layers; l++)
                saved.AddRange([passes.Normalised[l]!, passes.Mean[l], passes.InverseDeviation[l], passes.Varying[l]]);
            a = passes.Output;
        }
        else for (int l = 0; l < settings.Layers; l++)
        {
            var (weight, bias, gamma, beta) = Parameters(vars, l);
            var z = addmm(bias, a, weight.t(), 1, 1);
            var (mean, inverseDeviation, varying) = layers[l].Norm.Statistics(z, rowWeights);
            z.sub_(mean).mul_(inverseDeviation);
            var normalised = z;                                                                     // x̂, in place of z
            var activation = Activate(settings.Activation, addcmul(beta, normalised, gamma, 1), inPlace: true);
            if (l > 0) a.Dispose();   // the previous layer's activation, which nothing keeps
            a = activation;
            // The first layer's x̂ is formed again from the pairs (a few numbers each) rather than kept.
            if (l == 0) normalised.Dispose();
            saved.AddRange([l == 0 ? null! : normalised, mean, inverseDeviation, varying]);
        }
        ctx.save_for_backward([.. saved, .. parameters]);
        ctx.save_data(SettingsKey, settings);
        ctx.set_materialize_grads(false);
        UnusedOutputCopies.Expect(ctx);
        scope.MoveToOuter(saved.Skip(2).Where(t => t is not null));
        return a.MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        var settings = (Settings)ctx.get_data(SettingsKey);
        int inputs = 2 + 4 * settings.Layers + 2;
        return CustomBackward.Run(gradOutput, inputs, () => Differentiate(ctx, settings, gradOutput),
            () => [empty(0), null!, .. Enumerable.Range(0, 4 * settings.Layers).Select(_ => empty(0)), null!, null!]);
    }

    private static List<Tensor> Differentiate(AutogradContext ctx, Settings settings, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var (pairs, rowWeights) = (saved[0], saved[1] is { IsInvalid: false } weights ? weights : null);   // none saved: every row once
        int layers = settings.Layers;
        var parameters = saved.Skip(2 + 4 * layers).ToList();            // W, b, γ, β of each layer
        var normalised = new Tensor[layers];
        var inverseDeviations = new Tensor[layers];
        var varying = new Tensor[layers];
        bool graph = is_grad_enabled();
        if (graph)
        {
            // The gradient will be differentiated again: every layer formed again from the inputs, in the graph.
            var a = pairs;
            for (int l = 0; l < layers; l++)
            {
                var z = addmm(parameters[4 * l + 1], a, parameters[4 * l].t(), 1, 1);
                var (mean, inverseDeviation) = settings.BatchStatistics
                    ? MaskedBatchNorm.BatchStatistics(z, rowWeights)
                    : (saved[2 + 4 * l + 1], saved[2 + 4 * l + 2]);
                (normalised[l], inverseDeviations[l], varying[l]) = ((z - mean) * inverseDeviation, inverseDeviation, saved[2 + 4 * l + 3]);
                a = Activate(settings.Activation, PreActivation(parameters, normalised[l], l));
            }
        }
        else
        {
            for (int l = 0; l < layers; l++)
                (normalised[l], inverseDeviations[l], varying[l]) = (l == 0 ? null! : saved[2 + 4 * l], saved[2 + 4 * l + 2], saved[2 + 4 * l + 3]);
            if (KernelNetworkPasses.Take(pairs, rowWeights, parameters, [.. normalised]))
            {
                var means = Enumerable.Range(0, layers).Select(l => saved[2 + 4 * l + 1]).ToList();
                // The gradient of a sum comes expanded: the passes read rows, so it is laid out as rows first (N × 16, small).
                var incoming = gradOutput.contiguous();
                var (parameterGradients, passesPairsGradient) = KernelNetworkPasses.Backward(incoming, pairs, rowWeights, parameters, normalised,
                    means, inverseDeviations, varying, settings.Activation, settings.BatchStatistics, settings.PairsNeedGradient);
                scope.MoveToOuter([.. parameterGradients, .. passesPairsGradient is null ? Array.Empty<Tensor>() : [passesPairsGradient]]);
                gradOutput.Dispose();
                return [passesPairsGradient!, null!, .. parameterGradients, null!, null!];
            }
        }

        var gradients = new Tensor[4 * layers];
        // Sums over rows as products: far faster than sum(0) on (N, 32).
        var rows = ones(1, pairs.shape[0], pairs.dtype, pairs.device);
        Tensor g = gradOutput;
        Tensor? pairsGrad = null;
        for (int l = layers - 1; l >= 0; l--)
        {
            // The first layer's x̂ again (see forward), once the layers above are done with theirs: exactly as formed there.
            if (l <= 1 && normalised[0] is null)
                normalised[0] = addmm(parameters[1], pairs, parameters[0].t(), 1, 1).sub_(saved[3]).mul_(inverseDeviations[0]);
            using var layerScope = NewDisposeScope();
            var (weight, gamma, beta, x) = (parameters[4 * l], parameters[4 * l + 2], parameters[4 * l + 3], normalised[l]);
            var scale = gamma * inverseDeviations[l];
            // Without a graph to build, each step writes over a tensor of its own (∂y over y, ∂z over ∂y), so that the
            // backward pass holds two or three of the layer's size at a time; with one, every step is out of place.
            var y = PreActivation(parameters, x, l);
            var gy = graph ? g * Derivative(settings.Activation, y) : GradientThroughActivation(settings.Activation, y, g);  // ∂y
            if (!graph && !ReferenceEquals(g, gradOutput)) g.Dispose();   // the layer above's ∂a, ours and read
            var betaGrad = rows.mm(gy).squeeze(0);
            Tensor gammaGrad;
            using (var product = gy * x) gammaGrad = rows.mm(product).squeeze(0);
            var gz = graph ? gy * scale : gy.mul_(scale);
            if (settings.BatchStatistics)
            {
                // − w/W·(Σ ∂y + x̂·Σ ∂y·x̂)·γ/σ (w = 1, W = N without row weights), the x̂ term only where σ is not clamped.
                var (meanTerm, spreadTerm) = CentringTerms(scale, betaGrad, gammaGrad, varying[l], rowWeights, x.shape[0]);
                using var centre = addcmul(meanTerm, x, spreadTerm, 1);
                var weighted = rowWeights is null ? centre : graph ? centre * rowWeights.unsqueeze(1) : centre.mul_(rowWeights.unsqueeze(1));
                gz = graph ? gz - weighted : gz.sub_(weighted);
            }
            var biasGrad = rows.mm(gz).squeeze(0);
            // The layer's input: the activation below, formed again (its pre-activation is formed once more for that
            // layer's own step rather than kept alongside).
            var input = l > 0 ? Activate(settings.Activation, PreActivation(parameters, normalised[l - 1], l - 1), inPlace: !graph) : pairs;
            (gradients[4 * l], gradients[4 * l + 1]) = (gz.t().mm(input), biasGrad);
            (gradients[4 * l + 2], gradients[4 * l + 3]) = (gammaGrad, betaGrad);
            if (!graph && l > 0) input.Dispose();
            layerScope.MoveToOuter(gradients[4 * l], gradients[4 * l + 1], gammaGrad, betaGrad);
            if (l > 0) g = gz.mm(weight).MoveToOuterDisposeScope();
            else if (settings.PairsNeedGradient) pairsGrad = gz.mm(weight).MoveToOuterDisposeScope();
            if (!graph) gz.Dispose();   // written over the layer's incoming gradient, which belongs to the outer scope
        }
        scope.MoveToOuter([.. gradients, .. pairsGrad is null ? Array.Empty<Tensor>() : [pairsGrad]]);
        gradOutput.Dispose();
        return [pairsGrad!, null!, .. gradients, null!, null!];
    }

    /// <summary>y = γ·x̂ + β of layer <paramref name="layer"/>.</summary>
    private static Tensor PreActivation(List<Tensor> parameters, Tensor normalised, int layer) =>
        addcmul(parameters[4 * layer + 3], normalised, parameters[4 * layer + 2], 1);

    private static (Tensor Weight, Tensor Bias, Tensor Gamma, Tensor Beta) Parameters(object[] vars, int layer) =>
        ((Tensor)vars[2 + 4 * layer], (Tensor)vars[3 + 4 * layer], (Tensor)vars[4 + 4 * layer], (Tensor)vars[5 + 4 * layer]);

    /// <summary>act(y); written over <paramref name="y"/> where <paramref name="inPlace"/> (no graph reads y).</summary>
    private static Tensor Activate(Activation activation, Tensor y, bool inPlace = false) => activation switch
    {
        Activation.Swish => nn.functional.silu(y, inplace: inPlace),
        Activation.ReLU => nn.functional.relu(y, inplace: inPlace),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>g·act′(y) written over <paramref name="y"/>.</summary>
    private static Tensor GradientThroughActivation(Activation activation, Tensor y, Tensor g)
    {
        if (activation == Activation.ReLU) return y.gt_(0).mul_(g);
        using var s = y.sigmoid();
        return y.addcmul_(y, s, -1).add_(1).mul_(s).mul_(g);   // s·(1 + y·(1 − s))·g
    }

    /// <summary>act′(y): s·(1 + y·(1 − s)) for Swish (s the sigmoid of y), the step for ReLU.</summary>
    private static Tensor Derivative(Activation activation, Tensor y)
    {
        if (activation == Activation.ReLU) return (y > 0).to(y.dtype);
        var s = y.sigmoid();
        return s * (y * (1 - s) + 1);
    }

    /// <summary>
    /// The per-channel terms of batch norm's gradient, m = γ/σ·Σ ∂y / W and v = γ/σ·Σ ∂y·x̂ / W (zero where σ is
    /// clamped), W the rows' total weight (their number without row weights).
    /// </summary>
    private static (Tensor Mean, Tensor Spread) CentringTerms(Tensor scale, Tensor betaGrad, Tensor gammaGrad, Tensor varying, Tensor? rowWeights, long rows)
    {
        if (rowWeights is null) return (scale * betaGrad / (double)rows, scale * gammaGrad * varying / (double)rows);
        using var total = rowWeights.sum().clamp_min(1);
        return (scale * betaGrad / total, scale * gammaGrad * varying / total);
    }
}
