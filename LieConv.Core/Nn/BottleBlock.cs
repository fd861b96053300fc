using LieConv.Groups;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// The pre-activation bottleneck residual block of LieResNet (reference §3.2):
/// [BN] → act → Linear(cin → cin/4) → [BN] → act → LieConv(cin/4 → cout/4) → [BN] → act → Linear(cout/4 → cout),
/// plus the (subsampled) input added to the first cin output channels.
/// </summary>
/// <remarks>The subsample is chosen once per block and shared by the shortcut and the convolution; the original
/// draws it twice, with different random starts unless cached (reference §7.6).</remarks>
public sealed class BottleBlock : nn.Module<LiftedCloud, LiftedCloud>
{
    private readonly MaskedBatchNorm? norm_in;
    private readonly Linear reduce;
    private readonly MaskedBatchNorm? norm_mid;
    private readonly LieConvolution conv;
    private readonly MaskedBatchNorm? norm_out;
    private readonly Linear expand;
    private readonly Activation _activation;

    /// <summary>A block from <paramref name="inChannels"/> to <paramref name="outChannels"/> ≥ <paramref name="inChannels"/> features.</summary>
    /// <param name="group">The group of the convolution.</param>
    /// <param name="inChannels">Input width.</param>
    /// <param name="outChannels">Output width, at least the input width.</param>
    /// <param name="settings">The convolution's settings (BatchNorm and Activation apply to the whole block).</param>
    /// <param name="downsample">Fraction of points kept by farthest point subsampling (1 keeps all).</param>
    /// <param name="sampling">Random sources for subsampling and neighbourhoods.</param>
    public BottleBlock(LieGroup group, long inChannels, long outChannels, LieConvSettings settings, double downsample, Sampling sampling)
        : base(nameof(BottleBlock))
    {
        if (inChannels > outChannels)
            throw new ArgumentException($"A bottleneck block cannot shrink its width ({inChannels} → {outChannels}).", nameof(outChannels));
        if (!(downsample > 0 && downsample <= 1))
            throw new ArgumentOutOfRangeException(nameof(downsample), downsample, "The kept fraction must be in (0, 1].");
        InChannels = inChannels;
        OutChannels = outChannels;
        Downsample = downsample;
        Group = group;
        Sampling = sampling;
        _activation = settings.Activation;
        if (settings.BatchNorm)
        {
            norm_in = new MaskedBatchNorm(inChannels);
            norm_mid = new MaskedBatchNorm(inChannels / 4);
            norm_out = new MaskedBatchNorm(outChannels / 4);
        }
        reduce = nn.Linear(inChannels, inChannels / 4);
        conv = new LieConvolution(group, inChannels / 4, outChannels / 4, settings, sampling);
        expand = nn.Linear(outChannels / 4, outChannels);
        RegisterComponents();
    }

    /// <summary>Input width.</summary>
    public long InChannels { get; }

    /// <summary>Output width.</summary>
    public long OutChannels { get; }

    /// <summary>Fraction of points kept.</summary>
    public double Downsample { get; }

    /// <summary>The group of the block's convolution.</summary>
    public LieGroup Group { get; }

    /// <summary>Random sources of the block (shared with its convolution).</summary>
    public Sampling Sampling { get; }

    /// <summary>The block's convolution.</summary>
    public LieConvolution Convolution => conv;

    /// <summary>
    /// Subsample indices fixed in advance (e.g. for a fixed image grid), (1, m) shared by every cloud, or null to
    /// run farthest point subsampling on each input.
    /// </summary>
    public Tensor? FixedSubsample { get; set; }

    /// <inheritdoc />
    /// <remarks>
    /// Runs in its own dispose scope: what the block makes and does not pass on is freed when it returns rather than
    /// when the caller's scope ends (autograd holds its own references to what the backward pass needs), so a
    /// training step's peak holds one block's temporaries instead of every block's.
    /// </remarks>
    public override LiftedCloud forward(LiftedCloud cloud)
    {
        using var scope = NewDisposeScope();
        var output = Forward(cloud);
        scope.MoveToOuter(output.Tensors());
        return output;
    }

    private LiftedCloud Forward(LiftedCloud cloud)
    {
        var queries = ChooseQueries(cloud);
        // The point-wise layers run on real points only where clouds are padded (RealRows); the convolution reads
        // its input spread back over the padded batch, zero at the padding.
        var real = RealRows.Of(cloud.Mask, cloud.BatchSize);
        var (h, mask) = real is null ? (cloud.Values, cloud.Mask) : (real.Pack(cloud.Values), real.Mask);
        h = Normalise(norm_in, h, mask);
        h = reduce.forward(_activation.Apply(h));
        h = _activation.Apply(Normalise(norm_mid, h, mask));
        var convolved = conv.forward(cloud.WithValues(real is null ? h : real.Unpack(h)), queries);

        var realOut = queries is null ? real : RealRows.Of(convolved.Mask, convolved.BatchSize);
        (h, mask) = realOut is null ? (convolved.Values, convolved.Mask) : (realOut.Pack(convolved.Values), realOut.Mask);
        var output = expand.forward(_activation.Apply(Normalise(norm_out, h, mask)));
        if (realOut is not null) output = realOut.Unpack(output);

        var shortcut = queries is null ? cloud.Values : LiftedCloud.Gather(cloud.Values, queries);
        // Zero-padding by nothing would still copy the shortcut (libtorch's pad clones): most blocks keep their width.
        output = output + (OutChannels == InChannels ? shortcut : nn.functional.pad(shortcut, new[] { 0L, OutChannels - InChannels }));
        return convolved.WithValues(output);
    }

    /// <summary>The points this block keeps: the fixed subsample, farthest points, or all (null).</summary>
    /// <remarks>
    /// Clouds that share their points share one farthest-point subsample (1, m), from one random start per step, so
    /// that they go on sharing them; in evaluation mode the counter source gives every cloud the same start anyway.
    /// (The original's image network goes further and fixes one subsample for the whole of training.)
    /// </remarks>
    public Tensor? ChooseQueries(LiftedCloud cloud)
    {
        if (FixedSubsample is not null) return FixedSubsample;
        if (Downsample >= 1) return null;
        if (cloud.SharesGeometry) cloud = cloud with { Values = cloud.Values.narrow(0, 0, 1) };   // one cloud stands for all
        return FarthestPointSampler.Sample(Group, cloud, FarthestPointSampler.KeptCount(Downsample, cloud.PointCount), Sampling.For(training));
    }

    private static Tensor Normalise(MaskedBatchNorm? norm, Tensor x, Tensor mask) => norm is null ? x : norm.forward(x, mask);
}
