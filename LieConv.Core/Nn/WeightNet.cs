using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// The kernel network of a LieConv layer (reference §2.5): pair features (…, D) → 16 kernel values, as
/// Linear(D→32) → [BN] → act → Linear(32→32) → [BN] → act → Linear(32→16) → [BN] → act.
/// </summary>
public sealed class WeightNet : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>Width of the hidden layers.</summary>
    public const int HiddenWidth = 32;

    /// <summary>Number of kernel outputs per pair (the bottleneck of the PointConv trick).</summary>
    public const int OutputWidth = 16;

    private readonly ModuleList<Linear> linears;
    private readonly ModuleList<MaskedBatchNorm> norms;
    private readonly Activation _activation;

    /// <summary>A kernel network on pair features of width <paramref name="pairDim"/>.</summary>
    public WeightNet(int pairDim, bool batchNorm, Activation activation) : base(nameof(WeightNet))
    {
        _activation = activation;
        var widths = new[] { pairDim, HiddenWidth, HiddenWidth, OutputWidth };
        linears = new ModuleList<Linear>(Enumerable.Range(0, 3).Select(i => nn.Linear(widths[i], widths[i + 1])).ToArray());
        norms = new ModuleList<MaskedBatchNorm>(batchNorm ? Enumerable.Range(1, 3).Select(i => new MaskedBatchNorm(widths[i])).ToArray() : Array.Empty<MaskedBatchNorm>());
        RegisterComponents();
    }

    /// <summary>Kernel values (…, 16) for pair features (…, D); <paramref name="mask"/> (…) marks the real pairs for batch norm.</summary>
    /// <remarks>With batch norm and a graph to build, the network is one operation that keeps one tensor per layer where its
    /// layers would keep three or four (<see cref="WeightNetFunction"/>); the Hamiltonian networks' marked route keeps the layers.</remarks>
    public override Tensor forward(Tensor pairs, Tensor mask)
    {
        if (norms.Count > 0 && is_grad_enabled() && !ActivationFunctions.TakesSecondOrderRoute) return AsOneOperation(pairs, mask);
        var h = pairs;
        for (int i = 0; i < linears.Count; i++)
        {
            h = linears[i].forward(h);
            if (norms.Count > 0) h = norms[i].forward(h, mask);
            h = _activation.Apply(h);
        }
        return h;
    }

    private Tensor AsOneOperation(Tensor pairs, Tensor mask)
    {
        var rows = pairs.shape[..^1];
        var rowWeights = MaskedBatchNorm.CountsEveryEntryOnce(mask) ? null : mask.expand(rows).reshape(-1).to(pairs.dtype);
        var layers = Enumerable.Range(0, linears.Count).Select(i => new WeightNetFunction.Layer(linears[i], norms[i])).ToList();
        var output = WeightNetFunction.Compute(pairs.reshape(-1, pairs.shape[^1]), rowWeights, layers, _activation, training);
        return output.view([.. rows, OutputWidth]);
    }
}
