using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Models.Dynamics;

/// <summary>
/// The FC baseline (reference §3.8): an MLP from [centred q, p, sysP] (all flattened) to the vector field (q̇, ṗ),
/// num_layers × (Linear → Swish) of width k, then Linear(k → 2nd). Defaults k 300, 4 layers.
/// </summary>
public sealed class FC : DynamicsNetwork
{
    private readonly Sequential net;

    /// <summary>Builds the network (use <see cref="DynamicsNetworkOptions.Create"/>).</summary>
    public FC(DynamicsNetworkOptions options) : base(nameof(FC), options)
    {
        int n = options.Particles, d = options.Dimension, s = options.SystemDimension;
        net = Mlp(2 * n * d + n * s, options.EffectiveChannels, options.EffectiveLayers, options.Activation, 2 * n * d);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor t, Tensor z, Tensor sysP)
    {
        CheckInputs(z, sysP);
        var (q, p) = SplitState(z);
        return net.forward(cat([Centre(q).flatten(1), p.flatten(1), sysP.flatten(1)], dim: 1));
    }
}

/// <summary>
/// The HFC baseline (reference §3.8): an MLP potential V from [centred q, sysP] per particle, flattened, with
/// H = T + V. Defaults k 150, 4 layers.
/// </summary>
public sealed class HFC : PotentialHamiltonianNetwork
{
    private readonly Sequential net;

    /// <summary>Builds the network (use <see cref="DynamicsNetworkOptions.Create"/>).</summary>
    public HFC(DynamicsNetworkOptions options) : base(nameof(HFC), options)
    {
        int n = options.Particles, d = options.Dimension, s = options.SystemDimension;
        net = Mlp(n * (d + s), options.EffectiveChannels, options.EffectiveLayers, options.Activation, 1);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor Potential(Tensor positions, Tensor sysP) =>
        net.forward(cat([Centre(positions), sysP], dim: -1).flatten(1)).squeeze(-1);
}
