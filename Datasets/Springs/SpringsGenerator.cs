using System.Globalization;
using LieConv.Numerics;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Datasets.Springs;

/// <summary>
/// Generates spring systems and their trajectories (reference §4.3), in float64 on the CPU: random masses, spring
/// constants and initial states, integrated with the RK4 3/8 rule, one step per output interval.
/// </summary>
/// <remarks>
/// <para>Randomness: systems are drawn in blocks of <see cref="RandomBlockSize"/>, block b from its own generator
/// seeded by (seed, b), always a whole block (the original also drew whole batches and cut the surplus). So system i
/// depends on the seed and i only: not on how many systems are generated (a smaller set is a prefix of a larger
/// one) and not on <see cref="SpringsGeneratorOptions.IntegrationBatchSize"/>.</para>
/// <para>The original drew from torch's unseeded global generator (§7.14); every draw here is seeded.</para>
/// </remarks>
public static class SpringsGenerator
{
    /// <summary>Systems per random block, each block drawn from its own seeded generator (the original's batch of 5000).</summary>
    public const int RandomBlockSize = 5000;

    /// <summary>Generates the systems and integrates their trajectories.</summary>
    /// <param name="options">What to generate.</param>
    /// <param name="progress">Receives the number of systems integrated so far after each integration batch.</param>
    /// <param name="cancellationToken">Checked between integration batches.</param>
    public static SpringSystems Generate(SpringsGeneratorOptions options, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int count = options.Systems, steps = options.Steps, stateSize = options.StateSize, particles = options.Particles;
        var times = TimeGrid(steps, options.TimeStep);
        var trajectories = new double[(long)count * steps * stateSize];
        var parameters = new double[(long)count * particles * 2];

        using var scope = NewDisposeScope();
        var (initialStates, masses, springConstants) = SampleInitialConditions(options);
        stack([masses, springConstants], dim: -1).contiguous().data<double>().CopyTo(parameters);
        var grid = tensor(times, [steps], ScalarType.Float64);
        for (int start = 0; start < count; start += options.IntegrationBatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var batchScope = NewDisposeScope();
            int size = Math.Min(options.IntegrationBatchSize, count - start);
            var m = masses.narrow(0, start, size);
            var k = springConstants.narrow(0, start, size);
            Func<Tensor, Tensor, Tensor> field = options.Forces switch
            {
                SpringForces.ClosedForm => (_, z) => SpringHamiltonian.VectorField(z, m, k),
                _ => SpringHamiltonian.Dynamics(m, k).Evaluate,
            };
            var states = RungeKutta.Integrate(field, initialStates.narrow(0, start, size), grid, keepGraph: false);
            states.data<double>().CopyTo(trajectories, checked(start * steps * stateSize));
            progress?.Report(start + size);
        }
        return new SpringSystems(options, times, trajectories, parameters);
    }

    /// <summary>
    /// Draws the systems' initial conditions (float64, CPU): masses mᵢ = 0.1 + 3·U(0,1), spring constants
    /// kᵢ = 5·U(0,1), positions q = 0.4·N(0,1), momenta p = 0.6·N(0,1) minus their mean over the particles.
    /// </summary>
    /// <param name="options">Systems, particles, dimension and seed are used.</param>
    /// <returns>States (N, 2nd) = [q flattened particle-major, p likewise], masses (N, n), spring constants (N, n).</returns>
    public static (Tensor InitialStates, Tensor Masses, Tensor SpringConstants) SampleInitialConditions(SpringsGeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int count = options.Systems, n = options.Particles, d = options.Dimension;
        using var scope = NewDisposeScope();
        var states = new List<Tensor>();
        var masses = new List<Tensor>();
        var springs = new List<Tensor>();
        for (int block = 0; block * RandomBlockSize < count; block++)
        {
            int used = Math.Min(RandomBlockSize, count - block * RandomBlockSize);
            using var generator = TorchRuntime.CreateGenerator(options.Seed, string.Create(CultureInfo.InvariantCulture, $"springs/block {block}"));
            // Same draws in the same order as the original's sample_system, but straight in float64.
            var m = 3 * rand([RandomBlockSize, n], ScalarType.Float64, generator: generator) + 0.1;
            var k = 5 * rand([RandomBlockSize, n], ScalarType.Float64, generator: generator);
            var q = 0.4 * randn([RandomBlockSize, n, d], ScalarType.Float64, generator: generator);
            var p = 0.6 * randn([RandomBlockSize, n, d], ScalarType.Float64, generator: generator);
            // The original subtracted p0.mean(0), the mean over the *systems* axis, which leaves each system with a
            // non-zero total momentum (its centre of mass drifts off). We subtract the mean over the particles of each
            // system, so Σᵢ pᵢ = 0 per system. The plain mean, not the mass-weighted boost pᵢ − mᵢP/M: both zero the
            // total momentum, but the plain mean is the one-axis fix of the original line and keeps the momenta
            // independent of the masses (an isotropic Gaussian restricted to Σp = 0), whereas the boost would tie each
            // pᵢ to mᵢ and change the distribution of the internal motion.
            p = p - p.mean([1], keepdim: true);
            states.Add(cat([q.reshape(RandomBlockSize, n * d), p.reshape(RandomBlockSize, n * d)], dim: 1).narrow(0, 0, used));
            masses.Add(m.narrow(0, 0, used));
            springs.Add(k.narrow(0, 0, used));
        }
        return (cat(states, 0).MoveToOuterDisposeScope(), cat(masses, 0).MoveToOuterDisposeScope(), cat(springs, 0).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The output times: <c>linspace(0, steps·timeStep, steps)</c> exactly as the original (and torch) computes it,
    /// so the spacing is steps·timeStep/(steps − 1) (see <see cref="SpringsGeneratorOptions.TimeStep"/>).
    /// </summary>
    public static double[] TimeGrid(int steps, double timeStep)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "At least one time is needed.");
        using var grid = linspace(0.0, steps * timeStep, steps, ScalarType.Float64);
        return grid.data<double>().ToArray();
    }
}
