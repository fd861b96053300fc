using System.Globalization;

namespace LieConv.Datasets.Springs;

/// <summary>How the spring forces of the generator are computed; both give the same vector field up to rounding.</summary>
public enum SpringForces
{
    /// <summary>The closed-form gradient of H (<see cref="SpringHamiltonian.VectorField"/>): O(n) per particle, no autograd.</summary>
    ClosedForm,

    /// <summary>Automatic differentiation of H (<see cref="SpringHamiltonian.Dynamics"/>), as the original did.</summary>
    Autograd,
}

/// <summary>
/// What the springs generator produces (reference §4.3). Every property except <see cref="IntegrationBatchSize"/>
/// changes the data and is part of the cache key (<see cref="SpringsCache.FileName"/>).
/// </summary>
public sealed record SpringsGeneratorOptions
{
    /// <summary>Number of systems (train_springs generates 10 000, the study script 100 000).</summary>
    public int Systems { get; init; } = 10_000;

    /// <summary>Particles per system, n.</summary>
    public int Particles { get; init; } = 6;

    /// <summary>Space dimension, d.</summary>
    public int Dimension { get; init; } = 2;

    /// <summary>Number of output times T, also the number of states per trajectory.</summary>
    public int Steps { get; init; } = 500;

    /// <summary>
    /// Nominal time step: the grid is <c>linspace(0, Steps·TimeStep, Steps)</c> like the original, so the actual
    /// spacing is Steps·TimeStep/(Steps − 1) (5/499 ≈ 0.01002 by default, not 0.01). Kept on purpose so that the data
    /// has the original's time scale; choose TimeStep = d·(Steps − 1)/Steps for an exact spacing d.
    /// </summary>
    public double TimeStep { get; init; } = 0.01;

    /// <summary>The seed every random draw of the generator derives from.</summary>
    public long Seed { get; init; }

    /// <summary>How the forces are computed.</summary>
    public SpringForces Forces { get; init; } = SpringForces.ClosedForm;

    /// <summary>
    /// Systems integrated together (memory versus per-call overhead; the original used 5000). Does not change the
    /// data: the random draws are made per block of <see cref="SpringsGenerator.RandomBlockSize"/> systems whatever
    /// this is, and every system is integrated on its own rows.
    /// </summary>
    public int IntegrationBatchSize { get; init; } = 5000;

    /// <summary>State size 2·n·d.</summary>
    public int StateSize => 2 * Particles * Dimension;

    /// <summary>Checks every value; called by the generator and the cache.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range, or the data would not fit one .NET array.</exception>
    public void Validate()
    {
        Positive(Systems, nameof(Systems));
        Positive(Particles, nameof(Particles));
        Positive(Dimension, nameof(Dimension));
        Positive(IntegrationBatchSize, nameof(IntegrationBatchSize));
        if (Steps < 2)
            throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "At least two output times are needed (one integration step).");
        if (!double.IsFinite(TimeStep) || TimeStep <= 0)
            throw new ArgumentOutOfRangeException(nameof(TimeStep), TimeStep, "The time step must be positive and finite.");
        if (!Enum.IsDefined(Forces))
            throw new ArgumentOutOfRangeException(nameof(Forces), Forces, "Unknown force computation.");
        long elements = (long)Systems * Steps * StateSize;
        if ((long)Particles * Dimension * 2 > int.MaxValue || elements > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(Systems), Systems,
                $"{Systems} systems × {Steps} steps × {StateSize} numbers exceed one .NET array ({Array.MaxLength} elements); generate fewer systems per set.");
    }

    /// <summary>The generation parameters in words, for messages and logs.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Systems} systems of {Particles} particles in {Dimension}D, {Steps} steps of nominal dt {TimeStep:R}, seed {Seed}, {Forces} forces");

    private static void Positive(int value, string name)
    {
        if (value < 1) throw new ArgumentOutOfRangeException(name, value, "Must be at least 1.");
    }
}
