using static TorchSharp.torch;

namespace LieConv.Datasets.Springs;

/// <summary>
/// A generated set of spring systems: one float64 trajectory per system on a shared time grid, and the systems'
/// per-particle masses and spring constants. Produced by <see cref="SpringsGenerator"/>, saved and loaded by
/// <see cref="SpringsCache"/>, cut into training examples by <see cref="SpringsDataset"/>.
/// </summary>
public sealed class SpringSystems
{
    private readonly double[] _times;
    private readonly double[] _trajectories;
    private readonly double[] _parameters;

    /// <summary>Wraps generated (or loaded) arrays; they are kept, not copied.</summary>
    /// <param name="options">The generation parameters (their <see cref="SpringsGeneratorOptions.IntegrationBatchSize"/> is irrelevant).</param>
    /// <param name="times">The time grid (T).</param>
    /// <param name="trajectories">The states, (N, T, 2nd) row-major.</param>
    /// <param name="parameters">(mass, spring constant) per particle, (N, n, 2) row-major.</param>
    /// <exception cref="ArgumentException">An array's length disagrees with <paramref name="options"/>.</exception>
    public SpringSystems(SpringsGeneratorOptions options, double[] times, double[] trajectories, double[] parameters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(times);
        ArgumentNullException.ThrowIfNull(trajectories);
        ArgumentNullException.ThrowIfNull(parameters);
        options.Validate();
        Expect(times.Length, options.Steps, nameof(times), "T");
        Expect(trajectories.LongLength, (long)options.Systems * options.Steps * options.StateSize, nameof(trajectories), "N·T·2nd");
        Expect(parameters.LongLength, (long)options.Systems * options.Particles * 2, nameof(parameters), "N·n·2");
        Options = options;
        _times = times;
        _trajectories = trajectories;
        _parameters = parameters;
    }

    /// <summary>The parameters the systems were generated with.</summary>
    public SpringsGeneratorOptions Options { get; }

    /// <summary>Number of systems N.</summary>
    public int Count => Options.Systems;

    /// <summary>Particles per system n.</summary>
    public int Particles => Options.Particles;

    /// <summary>Space dimension d.</summary>
    public int Dimension => Options.Dimension;

    /// <summary>States per trajectory T.</summary>
    public int Steps => Options.Steps;

    /// <summary>State size 2·n·d.</summary>
    public int StateSize => Options.StateSize;

    /// <summary>The time grid (T), shared by all systems.</summary>
    public ReadOnlySpan<double> Times => _times;

    /// <summary>All trajectories, (N, T, 2nd) row-major; a state is [q flattened particle-major, p likewise].</summary>
    public ReadOnlySpan<double> Trajectories => _trajectories;

    /// <summary>All system parameters, (N, n, 2) row-major: (mass, spring constant) per particle.</summary>
    public ReadOnlySpan<double> Parameters => _parameters;

    /// <summary>The trajectory of one system, (T, 2nd) row-major.</summary>
    public ReadOnlySpan<double> Trajectory(int system)
    {
        CheckSystem(system);
        int length = Steps * StateSize;
        return _trajectories.AsSpan(system * length, length);
    }

    /// <summary>The (mass, spring constant) pairs of one system, (n, 2) row-major.</summary>
    public ReadOnlySpan<double> SystemParameters(int system)
    {
        CheckSystem(system);
        return _parameters.AsSpan(system * Particles * 2, Particles * 2);
    }

    /// <summary>The time grid as a float64 tensor (T) on the CPU (a copy).</summary>
    public Tensor TimesTensor() => tensor(_times, [Steps], ScalarType.Float64);

    /// <summary>All trajectories as a float64 tensor (N, T, 2nd) on the CPU (a copy).</summary>
    public Tensor TrajectoriesTensor() => tensor(_trajectories, [Count, Steps, StateSize], ScalarType.Float64);

    /// <summary>All system parameters as a float64 tensor (N, n, 2) on the CPU (a copy); [..., 0] masses, [..., 1] spring constants.</summary>
    public Tensor ParametersTensor() => tensor(_parameters, [Count, Particles, 2], ScalarType.Float64);

    // The cache writes the arrays without another copy.
    internal double[] TimesArray => _times;

    internal double[] TrajectoriesArray => _trajectories;

    internal double[] ParametersArray => _parameters;

    private void CheckSystem(int system)
    {
        if ((uint)system >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(system), system, $"There are {Count} systems.");
    }

    private static void Expect(long actual, long expected, string name, string what)
    {
        if (actual != expected)
            throw new ArgumentException($"Expected {what} = {expected} numbers, got {actual}.", name);
    }
}
