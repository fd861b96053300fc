using LieConv.Numerics;
using static TorchSharp.torch;

namespace LieConv.Datasets.Springs;

/// <summary>
/// The true Hamiltonian of the spring systems (reference §4.3), batched over systems:
/// H = Σᵢ ‖pᵢ‖²/(2mᵢ) + ½ Σᵢ Σⱼ kᵢkⱼ ‖qᵢ − qⱼ‖², the spring sum running over all ordered pairs (each pair counted
/// twice, as in the original).
/// </summary>
/// <remarks>
/// States are z (B, 2nd) = [q of all particles flattened particle-major, p likewise]; masses and spring constants
/// are (B, n). Any leading batch shape works as long as z and the parameters agree on it.
/// </remarks>
public static class SpringHamiltonian
{
    /// <summary>The total energy H, shape (B).</summary>
    /// <param name="z">States (B, 2nd).</param>
    /// <param name="masses">Particle masses (B, n).</param>
    /// <param name="springConstants">Per-particle spring constants kᵢ (B, n); the pair (i, j) has stiffness kᵢkⱼ.</param>
    public static Tensor Energy(Tensor z, Tensor masses, Tensor springConstants)
    {
        var (q, p) = Split(z, masses);
        return KineticEnergy(p, masses) + PotentialEnergy(q, springConstants);
    }

    /// <summary>Σᵢ ‖pᵢ‖²/(2mᵢ), shape (B), for momenta (B, n, d) and masses (B, n).</summary>
    public static Tensor KineticEnergy(Tensor momenta, Tensor masses)
    {
        ArgumentNullException.ThrowIfNull(momenta);
        ArgumentNullException.ThrowIfNull(masses);
        return (momenta.square().sum(dim: -1) / masses).sum(dim: -1) / 2;
    }

    /// <summary>½ Σᵢ Σⱼ kᵢkⱼ ‖qᵢ − qⱼ‖², shape (B), for positions (B, n, d) and spring constants (B, n).</summary>
    /// <remarks>
    /// The original took <c>norm(q_i − q_j)**2</c>; the squared differences are summed here instead, which is the same
    /// value without a square root whose derivative is 0/0 on the diagonal i = j (PyTorch masks that case; a plain
    /// chain rule would not).
    /// </remarks>
    public static Tensor PotentialEnergy(Tensor positions, Tensor springConstants)
    {
        ArgumentNullException.ThrowIfNull(positions);
        ArgumentNullException.ThrowIfNull(springConstants);
        using var scope = NewDisposeScope();
        var stiffness = springConstants.unsqueeze(-1) * springConstants.unsqueeze(-2);                       // (B, n, n)
        var squaredDistance = (positions.unsqueeze(-2) - positions.unsqueeze(-3)).square().sum(dim: -1);   // (B, n, n)
        return (0.5 * (stiffness * squaredDistance).sum(dim: -1).sum(dim: -1)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The vector field dz/dt = (∂H/∂p, −∂H/∂q) in closed form: q̇ᵢ = pᵢ/mᵢ and ṗᵢ = −2kᵢ Σⱼ kⱼ(qᵢ − qⱼ)
    /// = −2kᵢ (K qᵢ − Σⱼ kⱼqⱼ) with K = Σⱼ kⱼ. O(n) per particle instead of the O(n²) pair sum, and no autograd.
    /// </summary>
    /// <param name="z">States (B, 2nd).</param>
    /// <param name="masses">Particle masses (B, n).</param>
    /// <param name="springConstants">Per-particle spring constants (B, n).</param>
    /// <returns>dz/dt, shape (B, 2nd).</returns>
    public static Tensor VectorField(Tensor z, Tensor masses, Tensor springConstants)
    {
        ArgumentNullException.ThrowIfNull(springConstants);
        using var scope = NewDisposeScope();
        var (q, p) = Split(z, masses);
        var k = springConstants.unsqueeze(-1);                                                  // (B, n, 1)
        var velocity = p / masses.unsqueeze(-1);
        var totalStiffness = springConstants.sum(dim: -1, keepdim: true).unsqueeze(-1);        // (B, 1, 1)
        var weightedSum = (k * q).sum(dim: -2, keepdim: true);                                 // (B, 1, d)
        var force = -2 * k * (totalStiffness * q - weightedSum);
        return cat([velocity.flatten(-2), force.flatten(-2)], dim: -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same vector field by automatic differentiation of <see cref="Energy"/> (how the original generated the data).
    /// </summary>
    /// <param name="masses">Particle masses (B, n), captured by the returned dynamics.</param>
    /// <param name="springConstants">Per-particle spring constants (B, n), captured likewise.</param>
    public static HamiltonianDynamics Dynamics(Tensor masses, Tensor springConstants)
    {
        ArgumentNullException.ThrowIfNull(masses);
        ArgumentNullException.ThrowIfNull(springConstants);
        return new HamiltonianDynamics((_, z) => Energy(z, masses, springConstants), createGraph: false);
    }

    /// <summary>Σᵢ pᵢ, shape (B, d): zero for the generated systems and conserved, since the spring forces cancel in pairs.</summary>
    /// <param name="z">States (B, 2nd).</param>
    /// <param name="particles">n, the number of particles per system.</param>
    public static Tensor TotalMomentum(Tensor z, long particles)
    {
        ArgumentNullException.ThrowIfNull(z);
        var (_, p) = Split(z, particles);
        return p.sum(dim: -2);
    }

    /// <summary>Views of the positions and momenta of <paramref name="z"/> (B, 2nd) as (B, n, d) each.</summary>
    /// <param name="z">States (B, 2nd).</param>
    /// <param name="particles">n, the number of particles per system.</param>
    /// <exception cref="ArgumentException">2nd is not a multiple of 2n.</exception>
    public static (Tensor Positions, Tensor Momenta) Split(Tensor z, long particles)
    {
        ArgumentNullException.ThrowIfNull(z);
        long size = z.shape[^1];
        if (particles < 1 || size % (2 * particles) != 0)
            throw new ArgumentException($"A state of {size} numbers cannot hold positions and momenta of {particles} particles (expected a multiple of 2n = {2 * particles}).", nameof(z));
        long half = size / 2;
        var batch = z.shape[..^1];
        long[] perParticle = [.. batch, particles, half / particles];
        return (z.narrow(-1, 0, half).reshape(perParticle), z.narrow(-1, half, half).reshape(perParticle));
    }

    private static (Tensor Positions, Tensor Momenta) Split(Tensor z, Tensor masses)
    {
        ArgumentNullException.ThrowIfNull(masses);
        return Split(z, masses.shape[^1]);
    }
}
