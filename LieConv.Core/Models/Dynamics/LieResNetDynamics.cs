using static TorchSharp.torch;

namespace LieConv.Models.Dynamics;

/// <summary>
/// HLieResNet (reference §3.7), the paper's model: a <see cref="LieResNet"/> potential over the particles as a point
/// cloud — coordinates the centred positions, values the system parameters — whose per-particle outputs are averaged
/// into V; H = T + V. Defaults: group T(2), k 384, 4 blocks, nbhd 100, fill 1, mean, no batch norm.
/// </summary>
/// <remarks>
/// A particle whose first coordinate is NaN is masked out, as in the original. The original cached the lift; it is
/// recomputed here on every call (with 6 particles it is cheap, and the cache froze the batch size; §7.5).
/// </remarks>
public sealed class HLieResNet : PotentialHamiltonianNetwork
{
    private readonly LieResNet net;

    /// <summary>Builds the network (use <see cref="DynamicsNetworkOptions.Create"/>).</summary>
    public HLieResNet(DynamicsNetworkOptions options) : base(nameof(HLieResNet), options)
    {
        net = new LieResNet(options.LieResNetOptions(options.SystemDimension, 1, pool: true));
        RegisterComponents();
    }

    /// <summary>The LieResNet that computes the potential.</summary>
    public LieResNet Body => net;

    /// <inheritdoc/>
    public override Tensor Potential(Tensor positions, Tensor sysP)
    {
        var mask = positions.select(-1, 0).isnan().logical_not();
        return net.forward(new PointCloudBatch(Centre(positions), sysP, mask)).squeeze(-1);
    }
}

/// <summary>
/// FLieResNet (reference §3.7, not in the README): a <see cref="LieResNet"/> without pooling that outputs (q̇, ṗ) per
/// particle directly from the centred positions, with values [sysP, p] per particle.
/// </summary>
public sealed class FLieResNet : DynamicsNetwork
{
    private readonly LieResNet net;

    /// <summary>Builds the network (use <see cref="DynamicsNetworkOptions.Create"/>).</summary>
    public FLieResNet(DynamicsNetworkOptions options) : base(nameof(FLieResNet), options)
    {
        net = new LieResNet(options.LieResNetOptions(options.SystemDimension + options.Dimension, 2 * options.Dimension, pool: false));
        RegisterComponents();
    }

    /// <summary>The LieResNet that computes the field.</summary>
    public LieResNet Body => net;

    /// <inheritdoc/>
    public override Tensor forward(Tensor t, Tensor z, Tensor sysP)
    {
        CheckInputs(z, sysP);
        var (q, p) = SplitState(z);
        var mask = q.select(-1, 0).isnan().logical_not();
        // One lift sample and no subsampling keep the output points in particle order.
        var field = net.forward(new PointCloudBatch(Centre(q), cat([sysP, p], dim: -1), mask));
        return JoinState(field.narrow(-1, 0, Dimension), field.narrow(-1, Dimension, Dimension));
    }
}
