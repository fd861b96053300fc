using LieConv.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Numerics;

/// <summary>
/// The Hamiltonian vector field of a scalar energy, by automatic differentiation (reference §3.7): for a state
/// z = [q, p] (positions of all particles flattened particle-major, then the momenta likewise),
/// dz/dt = (∂H/∂p, −∂H/∂q).
/// </summary>
/// <remarks>
/// <para>The gradient is taken of ΣH over the batch: systems are independent, so each system's gradient is its own.</para>
/// <para>Gradients are enabled inside <see cref="Evaluate"/> even when the caller runs under no-grad (evaluation,
/// data generation): the vector field itself is a gradient.</para>
/// <para>Pass <see cref="Evaluate"/> to <see cref="RungeKutta.Integrate"/> as the vector field.</para>
/// </remarks>
public sealed class HamiltonianDynamics
{
    private readonly Func<Tensor, Tensor, Tensor> _hamiltonian;
    private long _evaluations;

    /// <summary>Creates the vector field of <paramref name="hamiltonian"/>.</summary>
    /// <param name="hamiltonian">H(t, z): t a 0-d tensor, z (..., 2D) with the positions in the first D entries of the
    /// last axis and the momenta in the last D; returns the energies (one per system, any shape: they are summed).</param>
    /// <param name="createGraph">
    /// True for learned Hamiltonians (the original's <c>wgrad</c>): the returned field stays differentiable, so a loss
    /// on an integrated trajectory back-propagates through the field into H's parameters (second-order graph).
    /// False for a known H (data generation): the field is a plain tensor and no graph is kept.
    /// </param>
    public HamiltonianDynamics(Func<Tensor, Tensor, Tensor> hamiltonian, bool createGraph = false)
    {
        _hamiltonian = hamiltonian ?? throw new ArgumentNullException(nameof(hamiltonian));
        CreateGraph = createGraph;
    }

    /// <summary>Whether the field is differentiable with respect to H's parameters and to the state's history.</summary>
    public bool CreateGraph { get; }

    /// <summary>How many times the field has been evaluated (the original's <c>nfe</c>); thread-safe.</summary>
    public long Evaluations => Interlocked.Read(ref _evaluations);

    /// <summary>Sets <see cref="Evaluations"/> back to zero, e.g. before each minibatch.</summary>
    public void ResetEvaluations() => Interlocked.Exchange(ref _evaluations, 0);

    /// <summary>dz/dt = (∂H/∂p, −∂H/∂q) at time <paramref name="t"/> and state <paramref name="z"/>.</summary>
    /// <param name="t">The time, a 0-d tensor (passed through to H).</param>
    /// <param name="z">The state (..., 2D); the last axis must have even length.</param>
    /// <returns>A tensor of <paramref name="z"/>'s shape.</returns>
    /// <exception cref="ArgumentException">The last axis of <paramref name="z"/> has odd length.</exception>
    public Tensor Evaluate(Tensor t, Tensor z)
    {
        ArgumentNullException.ThrowIfNull(z);
        if (z.dim() < 1 || z.shape[^1] % 2 != 0)
            throw new ArgumentException($"The state's last axis must hold positions and momenta (even length); got shape ({string.Join(", ", z.shape)}).", nameof(z));
        Interlocked.Increment(ref _evaluations);
        long half = z.shape[^1] / 2;

        using var scope = NewDisposeScope();
        Tensor gradient;
        using (enable_grad())
        {
            // origin + z, origin a leaf of zeros, rather than z.detach().requires_grad_(): the sum is a fresh tensor to
            // differentiate by (its gradient is origin's), yet stays connected to z's own history, so that with
            // createGraph a loss can still reach whatever produced z (earlier integration steps and their parameters).
            var origin = zeros_like(z, requires_grad: true);
            var differentiable = origin + z;
            // The field's graph is kept for the loss: the layers take their routes for second-order gradients.
            Tensor energy;
            using (CreateGraph ? SecondOrderGradients.Begin() : null)
                energy = _hamiltonian(t, differentiable).sum();
            // backward(…, inputs) rather than autograd.grad: TorchSharp 0.107 lets an error inside autograd.grad (a
            // failing operation, memory running out) end the process, while backward turns it into an exception.
            // The graph is retained with createGraph, which the loss back-propagates through.
            CustomBackward.Call(() => autograd.backward([energy], retain_graph: CreateGraph, create_graph: CreateGraph, inputs: [origin]));
            // Taken from the leaf, whose gradient would otherwise hold the graph that holds the leaf.
            gradient = origin.grad ?? zeros_like(z);   // none: H does not depend on the state
            origin.grad = null;
        }
        var dHdq = gradient.narrow(-1, 0, half);
        var dHdp = gradient.narrow(-1, half, half);
        return cat([dHdp, -dHdq], dim: -1).MoveToOuterDisposeScope();
    }
}
