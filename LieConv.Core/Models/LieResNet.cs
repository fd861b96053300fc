using LieConv.Groups;
using LieConv.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Models;

/// <summary>
/// The generic LieConv residual network (reference §3.4, Fig. 5 of the paper): lift the input, project the
/// features to k channels, apply bottleneck blocks, then [BN] → act → Linear to the outputs, pooled over the cloud.
/// </summary>
public sealed class LieResNet : nn.Module<PointCloudBatch, Tensor>
{
    private readonly Linear input;
    private readonly ModuleList<BottleBlock> blocks;
    private readonly MaskedBatchNorm? norm;
    private readonly Linear output;

    /// <summary>Builds the network that <paramref name="options"/> describe.</summary>
    public LieResNet(LieResNetOptions options) : base(nameof(LieResNet))
    {
        options.Validate();
        Options = options;
        Group = LieGroup.Parse(options.Group);
        LiftSampling = Sampling.Create(options.EvaluationSeed, "lift");
        var widths = options.StageWidths;
        var fills = options.LayerFills;
        input = nn.Linear(options.InputChannels, widths[0]);
        blocks = new ModuleList<BottleBlock>(Enumerable.Range(0, options.Layers).Select(i => new BottleBlock(Group, widths[i], widths[i + 1],
            new LieConvSettings(options.Neighbourhood, fills[i], options.Knn, options.Mean, options.BatchNorm, options.Activation),
            options.Downsample, Sampling.Create(options.EvaluationSeed, $"block{i}"))).ToArray());
        if (options.BatchNorm) norm = new MaskedBatchNorm(widths[^1]);
        output = nn.Linear(widths[^1], options.Outputs);
        RegisterComponents();
    }

    /// <summary>The options the network was built from.</summary>
    public LieResNetOptions Options { get; }

    /// <summary>The symmetry group.</summary>
    public LieGroup Group { get; }

    /// <summary>Random sources of the input lift.</summary>
    public Sampling LiftSampling { get; }

    /// <summary>The bottleneck blocks, in order.</summary>
    public IReadOnlyList<BottleBlock> Blocks => blocks.ToArray();

    /// <summary>(B, Outputs) with pooling, else (B, N', Outputs) per lifted point (with <see cref="Lift"/>'s mask).</summary>
    public override Tensor forward(PointCloudBatch batch) => Forward(Lift(batch));

    /// <summary>Lifts a batch to the group with the network's lift samples and random source.</summary>
    public LiftedCloud Lift(PointCloudBatch batch)
    {
        batch.Validate(Group.SpaceDim, Options.InputChannels);
        return LiftedCloud.Lift(Group, batch.Coordinates, batch.Values, batch.Mask, Options.LiftSamples, LiftSampling.For(training));
    }

    /// <summary>The network on an already lifted cloud (e.g. a cached lift of a fixed grid), pooled if <see cref="LieResNetOptions.Pool"/>.</summary>
    public Tensor Forward(LiftedCloud cloud)
    {
        var result = ForwardPoints(cloud);
        return Options.Pool ? GlobalPool.Pool(result.Values, result.Mask, Options.Mean) : result.Values;
    }

    /// <summary>The per-point outputs (B, N', Outputs) before pooling, with the points and mask they belong to.</summary>
    public LiftedCloud ForwardPoints(LiftedCloud cloud)
    {
        cloud = cloud.WithValues(input.forward(cloud.Values));
        foreach (var block in blocks) cloud = block.forward(cloud);
        var h = norm is null ? cloud.Values : norm.forward(cloud.Values, cloud.Mask);
        return cloud.WithValues(output.forward(Options.Activation.Apply(h)));
    }
}
