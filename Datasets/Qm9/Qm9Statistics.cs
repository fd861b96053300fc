namespace LieConv.Datasets.Qm9;

/// <summary>
/// Mean and unbiased standard deviation of each of the 12 targets over a set of molecules, normally the training split:
/// LieConv's <c>ds_stats</c>, which standardise targets for the loss (the trainer calls them median/MAD, but they are
/// mean/std).
/// </summary>
public sealed class Qm9TargetStatistics
{
    private readonly double[] _means;
    private readonly double[] _standardDeviations;

    private Qm9TargetStatistics(double[] means, double[] standardDeviations, long count)
    {
        _means = means;
        _standardDeviations = standardDeviations;
        Count = count;
    }

    /// <summary>The number of molecules the statistics were computed over.</summary>
    public long Count { get; }

    /// <summary>The mean of a target, converted unit.</summary>
    /// <param name="target">The target.</param>
    public double Mean(Qm9Target target) => _means[(int)target];

    /// <summary>The unbiased (n−1) standard deviation of a target, converted unit, as <c>torch.std</c> gives.</summary>
    /// <param name="target">The target.</param>
    public double StandardDeviation(Qm9Target target) => _standardDeviations[(int)target];

    /// <summary>(value − mean) / std.</summary>
    /// <param name="target">The target.</param>
    /// <param name="value">A value in the target's converted unit.</param>
    public double Standardise(Qm9Target target, double value) => (value - Mean(target)) / StandardDeviation(target);

    /// <summary>Computes the statistics in one pass (Welford, in double) over <paramref name="molecules"/>.</summary>
    /// <param name="molecules">Normally the training split.</param>
    /// <exception cref="ArgumentException">Fewer than two molecules (no unbiased standard deviation).</exception>
    public static Qm9TargetStatistics Compute(IEnumerable<Qm9Molecule> molecules)
    {
        ArgumentNullException.ThrowIfNull(molecules);
        var means = new double[Qm9Targets.Count];
        var squares = new double[Qm9Targets.Count];
        long count = 0;
        foreach (var molecule in molecules)
        {
            count++;
            for (int t = 0; t < Qm9Targets.Count; t++)
            {
                double value = molecule.Targets[t];
                double delta = value - means[t];
                means[t] += delta / count;
                squares[t] += delta * (value - means[t]);
            }
        }

        if (count < 2)
        {
            throw new ArgumentException($"Target statistics need at least two molecules, got {count}.", nameof(molecules));
        }

        return new Qm9TargetStatistics(means, squares.Select(s => Math.Sqrt(s / (count - 1))).ToArray(), count);
    }
}

/// <summary>
/// LieConv's <c>recenter</c> option: the mean 3-vector of all atom positions of the training split and the scalar
/// standard deviation of all their coordinates; every split's positions then become (p − mean) / std.
/// </summary>
/// <remarks>
/// As in LieConv (<c>pos.mean(dim=0), pos.std()</c> over the (atoms, 3) tensor of real atoms), the standard deviation is
/// torch's default: unbiased, over all 3·atoms coordinates, around their single scalar mean (not the per-axis means).
/// Sums are kept in double rather than float32.
/// </remarks>
public sealed class Qm9PositionStatistics
{
    private Qm9PositionStatistics(double meanX, double meanY, double meanZ, double standardDeviation, long atomCount)
    {
        Mean = [meanX, meanY, meanZ];
        StandardDeviation = standardDeviation;
        AtomCount = atomCount;
    }

    /// <summary>The mean position (x, y, z), Å.</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>The scalar standard deviation of all coordinates, Å.</summary>
    public double StandardDeviation { get; }

    /// <summary>The number of atoms the statistics were computed over.</summary>
    public long AtomCount { get; }

    /// <summary>Computes the statistics over every atom of <paramref name="molecules"/> (normally the training split).</summary>
    /// <param name="molecules">The molecules; their <see cref="Qm9Molecule.Points"/> in Å.</param>
    /// <exception cref="ArgumentException">There is no atom.</exception>
    public static Qm9PositionStatistics Compute(IEnumerable<Qm9Molecule> molecules)
    {
        ArgumentNullException.ThrowIfNull(molecules);
        // Welford per axis and for the pooled coordinates: QM9 positions are small, but this stays exact-ish at any offset.
        Span<double> axisMean = stackalloc double[3];
        double pooledMean = 0, pooledSquares = 0;
        long atoms = 0, coordinates = 0;
        foreach (var molecule in molecules)
        {
            float[] points = molecule.Points;
            for (int i = 0; i + 2 < points.Length; i += 3)
            {
                atoms++;
                for (int k = 0; k < 3; k++)
                {
                    double value = points[i + k];
                    axisMean[k] += (value - axisMean[k]) / atoms;
                    coordinates++;
                    double delta = value - pooledMean;
                    pooledMean += delta / coordinates;
                    pooledSquares += delta * (value - pooledMean);
                }
            }
        }

        if (coordinates < 2)
        {
            throw new ArgumentException("Position statistics need at least one atom.", nameof(molecules));
        }

        return new Qm9PositionStatistics(axisMean[0], axisMean[1], axisMean[2], Math.Sqrt(pooledSquares / (coordinates - 1)), atoms);
    }

    /// <summary>Lazily recentres molecules: each row is copied with Points = (p − mean) / std; everything else is shared.</summary>
    /// <param name="molecules">Any split.</param>
    public IEnumerable<Qm9Molecule> Recenter(IEnumerable<Qm9Molecule> molecules)
    {
        ArgumentNullException.ThrowIfNull(molecules);
        return RecenterCore(molecules);
    }

    private IEnumerable<Qm9Molecule> RecenterCore(IEnumerable<Qm9Molecule> molecules)
    {
        foreach (var molecule in molecules)
        {
            var points = new float[molecule.Points.Length];
            for (int i = 0; i < points.Length; i++)
            {
                points[i] = (float)((molecule.Points[i] - Mean[i % 3]) / StandardDeviation);
            }

            yield return new Qm9Molecule
            {
                Points = points,
                Charges = molecule.Charges,
                Label = molecule.Label,
                Targets = molecule.Targets,
                Index = molecule.Index,
            };
        }
    }
}
