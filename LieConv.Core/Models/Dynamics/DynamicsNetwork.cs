using LieConv.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Models.Dynamics;

/// <summary>
/// The common interface of the dynamics networks (reference §3.7, §3.8): a learned vector field
/// f(t, z, sysP) = dz/dt, to be integrated (<see cref="IntegratedDynamics"/>).
/// </summary>
/// <remarks>
/// States are z (B, 2·n·d) = [q of all particles flattened particle-major, p likewise]; system parameters are
/// sysP (B, n, sys_dim), whose first column is the mass. Build a network from its spec with
/// <see cref="DynamicsNetworkOptions.Create"/>.
/// </remarks>
public abstract class DynamicsNetwork : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private protected DynamicsNetwork(string name, DynamicsNetworkOptions options) : base(name)
    {
        Options = options;
    }

    /// <summary>The spec the network was built from.</summary>
    public DynamicsNetworkOptions Options { get; }

    /// <summary>Particles per system n.</summary>
    public int Particles => Options.Particles;

    /// <summary>Space dimension d.</summary>
    public int Dimension => Options.Dimension;

    /// <summary>Parameters per particle, sys_dim.</summary>
    public int SystemDimension => Options.SystemDimension;

    /// <summary>dz/dt (B, 2nd) at time <paramref name="t"/> (0-d), state <paramref name="z"/> (B, 2nd) and parameters <paramref name="sysP"/> (B, n, sys_dim).</summary>
    /// <exception cref="ArgumentException">The shapes do not fit the spec.</exception>
    public override abstract Tensor forward(Tensor t, Tensor z, Tensor sysP);

    /// <summary>Checks the shapes of a state and its system parameters against the spec.</summary>
    /// <exception cref="ArgumentException">A shape is wrong.</exception>
    public void CheckInputs(Tensor z, Tensor sysP)
    {
        ArgumentNullException.ThrowIfNull(z);
        ArgumentNullException.ThrowIfNull(sysP);
        if (z.dim() != 2 || z.shape[1] != Options.StateSize)
            throw new ArgumentException($"The state must be (B, 2·n·d = {Options.StateSize}); got ({string.Join(", ", z.shape)}).", nameof(z));
        if (sysP.dim() != 3 || sysP.shape[0] != z.shape[0] || sysP.shape[1] != Particles || sysP.shape[2] != SystemDimension)
            throw new ArgumentException($"The system parameters must be ({z.shape[0]}, {Particles}, {SystemDimension}); got ({string.Join(", ", sysP.shape)}).", nameof(sysP));
        if (z.dtype != sysP.dtype)
            throw new ArgumentException($"The state is {z.dtype} but the system parameters are {sysP.dtype}.", nameof(sysP));
    }

    /// <summary>Positions and momenta of <paramref name="z"/> (B, 2nd) as (B, n, d) views.</summary>
    public (Tensor Positions, Tensor Momenta) SplitState(Tensor z)
    {
        ArgumentNullException.ThrowIfNull(z);
        long half = z.shape[^1] / 2;
        long batch = z.shape[0];
        return (z.narrow(-1, 0, half).reshape(batch, Particles, Dimension), z.narrow(-1, half, half).reshape(batch, Particles, Dimension));
    }

    /// <summary>Joins per-particle (q̇, ṗ), each (B, n, d), into dz/dt (B, 2nd).</summary>
    private protected static Tensor JoinState(Tensor qDot, Tensor pDot) => cat([qDot.flatten(1), pDot.flatten(1)], dim: 1);

    /// <summary>
    /// The positions the networks see: minus the particles' plain mean when <see cref="DynamicsNetworkOptions.Center"/>
    /// (the original's unweighted mean, not the centre of mass; reference §7.15).
    /// </summary>
    private protected Tensor Centre(Tensor positions) =>
        Options.Center ? positions - positions.mean([1], keepdim: true) : positions;

    /// <summary>The known kinetic energy T = Σᵢ ‖pᵢ‖²/(2mᵢ), shape (B), for momenta (B, n, d) and masses (B, n).</summary>
    public static Tensor KineticEnergy(Tensor momenta, Tensor masses)
    {
        ArgumentNullException.ThrowIfNull(momenta);
        ArgumentNullException.ThrowIfNull(masses);
        return (momenta.square().sum(dim: -1) / masses).sum(dim: -1) / 2;
    }

    /// <summary>num_layers × (Linear → act) of width k, then Linear(k → outputs): the original's FC/HFC body.</summary>
    private protected static Sequential Mlp(long inputs, long width, int layers, Activation activation, long outputs)
    {
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        long previous = inputs;
        for (int i = 0; i < layers; i++)
        {
            modules.Add(($"linear{i}", nn.Linear(previous, width)));
            modules.Add(($"act{i}", activation.AsModule()));
            previous = width;
        }
        modules.Add(("output", nn.Linear(previous, outputs)));
        return nn.Sequential(modules);
    }
}
