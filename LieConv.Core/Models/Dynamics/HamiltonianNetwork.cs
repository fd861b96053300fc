using LieConv.Numerics;
using static TorchSharp.torch;

namespace LieConv.Models.Dynamics;

/// <summary>
/// A dynamics network whose field is the symplectic gradient of a learned scalar H (reference §3.7,
/// HamiltonianDynamics): dz/dt = (∂H/∂p, −∂H/∂q) by automatic differentiation.
/// </summary>
/// <remarks>
/// The gradient graph is kept (<see cref="HamiltonianDynamics.CreateGraph"/>) whenever gradients are enabled where
/// <see cref="forward"/> is called, so that a loss on an integrated trajectory back-propagates through the field into
/// H's parameters; under no-grad (evaluation, prediction) the field is still computed — gradients are enabled inside —
/// but no second-order graph is built. The original always kept it (<c>wgrad=True</c>), which only costs memory there.
/// </remarks>
public abstract class HamiltonianNetwork : DynamicsNetwork
{
    private protected HamiltonianNetwork(string name, DynamicsNetworkOptions options) : base(name, options)
    {
    }

    /// <summary>The learned energy H(t, z, sysP), shape (B).</summary>
    /// <param name="t">The time (0-d); the spring systems are autonomous and the networks ignore it.</param>
    /// <param name="z">States (B, 2nd).</param>
    /// <param name="sysP">System parameters (B, n, sys_dim).</param>
    public abstract Tensor Hamiltonian(Tensor t, Tensor z, Tensor sysP);

    /// <inheritdoc/>
    public override Tensor forward(Tensor t, Tensor z, Tensor sysP)
    {
        CheckInputs(z, sysP);
        var dynamics = new HamiltonianDynamics((time, state) => Hamiltonian(time, state, sysP), createGraph: is_grad_enabled());
        return dynamics.Evaluate(t, z);
    }
}

/// <summary>
/// The original's HNet: H = T(p, m) + V_θ(q, sysP), with the known kinetic energy T = Σᵢ ‖pᵢ‖²/(2mᵢ) (the mass is the
/// first system parameter) and a learned potential (reference §3.7).
/// </summary>
public abstract class PotentialHamiltonianNetwork : HamiltonianNetwork
{
    private protected PotentialHamiltonianNetwork(string name, DynamicsNetworkOptions options) : base(name, options)
    {
    }

    /// <summary>The learned potential V(q, sysP), shape (B), for positions (B, n, d) and parameters (B, n, sys_dim).</summary>
    public abstract Tensor Potential(Tensor positions, Tensor sysP);

    /// <inheritdoc/>
    public override Tensor Hamiltonian(Tensor t, Tensor z, Tensor sysP)
    {
        var (q, p) = SplitState(z);
        return KineticEnergy(p, sysP.select(-1, 0)) + Potential(q, sysP);
    }
}
