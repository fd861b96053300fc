namespace LieConv.Datasets.Qm9;

/// <summary>The three QM9 splits of Cormorant/LieConv.</summary>
public enum Qm9Split
{
    /// <summary>The training split (100,000 molecules of the full set).</summary>
    Train,

    /// <summary>The validation split (17,748).</summary>
    Valid,

    /// <summary>The test split (13,083).</summary>
    Test,
}

/// <summary>How many of the kept molecules go to each split.</summary>
/// <param name="Train">Training molecules.</param>
/// <param name="Valid">Validation molecules.</param>
/// <param name="Test">Test molecules.</param>
public sealed record Qm9SplitSizes(int Train, int Valid, int Test)
{
    /// <summary>The number of molecules Cormorant keeps: 133,885 − 3,054 uncharacterized.</summary>
    public const int OfficialKeptCount = Qm9Exclusions.OfficialMoleculeCount - Qm9Exclusions.OfficialCount;

    /// <summary>Cormorant's sizes for the 130,831 kept molecules: 100,000 / 17,748 / 13,083.</summary>
    public static Qm9SplitSizes Official { get; } = new(100_000, 17_748, 13_083);

    /// <summary>The total, Train + Valid + Test.</summary>
    public int Total => Train + Valid + Test;

    /// <summary>
    /// Sizes for <paramref name="keptCount"/> molecules by Cormorant's rule scaled to the count: test = ⌊n/10⌋ (Cormorant's
    /// <c>int(0.1·n)</c>), train = ⌊n·100,000/130,831⌋ (its fixed 100,000 as a fraction of the full set) and valid =
    /// the rest. For n = 130,831 this is exactly <see cref="Official"/>.
    /// </summary>
    /// <param name="keptCount">The number of molecules left after exclusions.</param>
    public static Qm9SplitSizes For(int keptCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keptCount);
        int test = keptCount / 10;
        int train = (int)((long)keptCount * Official.Train / OfficialKeptCount);
        return new Qm9SplitSizes(train, keptCount - train - test, test);
    }

    /// <summary>The size of one split.</summary>
    /// <param name="split">Which split.</param>
    public int this[Qm9Split split] => split switch
    {
        Qm9Split.Train => Train,
        Qm9Split.Valid => Valid,
        Qm9Split.Test => Test,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, null),
    };
}

/// <summary>
/// Which split each kept molecule belongs to, by its ordinal among the kept molecules in source order (archive order),
/// drawn as Cormorant does: <c>np.random.seed(seed); perm = np.random.permutation(n)</c>; the first <c>Train</c> entries
/// of <c>perm</c> are training ordinals, the next <c>Valid</c> validation, the last <c>Test</c> test. Within a split,
/// molecules keep source order, as Cormorant stores them.
/// </summary>
public sealed class Qm9SplitAssignment
{
    private readonly Qm9Split[] _splitOf;

    private Qm9SplitAssignment(Qm9Split[] splitOf, Qm9SplitSizes sizes, uint seed)
    {
        _splitOf = splitOf;
        Sizes = sizes;
        Seed = seed;
    }

    // Drawn on first use only: small custom splits should not pay for 130,831 draws.
    private static readonly Lazy<Qm9SplitAssignment> OfficialAssignment = new(() => Create(Qm9SplitSizes.Official));

    /// <summary>Cormorant's split of the full QM9 set: 130,831 kept molecules, seed 0, official sizes.</summary>
    public static Qm9SplitAssignment Official => OfficialAssignment.Value;

    /// <summary>The number of kept molecules the assignment covers.</summary>
    public int KeptCount => _splitOf.Length;

    /// <summary>The split sizes.</summary>
    public Qm9SplitSizes Sizes { get; }

    /// <summary>The NumPy seed the permutation was drawn with.</summary>
    public uint Seed { get; }

    /// <summary>Draws the assignment for <paramref name="sizes"/>.<see cref="Qm9SplitSizes.Total"/> kept molecules.</summary>
    /// <param name="sizes">The split sizes; their total is the number of kept molecules.</param>
    /// <param name="seed">The legacy NumPy seed; Cormorant uses 0.</param>
    /// <exception cref="ArgumentException">A size is negative.</exception>
    public static Qm9SplitAssignment Create(Qm9SplitSizes sizes, uint seed = 0)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Train < 0 || sizes.Valid < 0 || sizes.Test < 0)
        {
            throw new ArgumentException($"Split sizes must not be negative: {sizes}.", nameof(sizes));
        }

        int[] permutation = new NumPyLegacyRandom(seed).Permutation(sizes.Total);
        var splitOf = new Qm9Split[permutation.Length];
        for (int i = 0; i < permutation.Length; i++)
        {
            splitOf[permutation[i]] = i < sizes.Train ? Qm9Split.Train : i < sizes.Train + sizes.Valid ? Qm9Split.Valid : Qm9Split.Test;
        }

        return new Qm9SplitAssignment(splitOf, sizes, seed);
    }

    /// <summary>Draws the assignment for <paramref name="keptCount"/> molecules with <see cref="Qm9SplitSizes.For"/> sizes.</summary>
    /// <param name="keptCount">The number of molecules left after exclusions.</param>
    /// <param name="seed">The legacy NumPy seed; Cormorant uses 0.</param>
    public static Qm9SplitAssignment Create(int keptCount, uint seed = 0) => Create(Qm9SplitSizes.For(keptCount), seed);

    /// <summary>The split of the kept molecule with this ordinal (0-based position among kept molecules).</summary>
    /// <param name="keptOrdinal">0 … <see cref="KeptCount"/>−1.</param>
    public Qm9Split this[int keptOrdinal] => _splitOf[keptOrdinal];

    /// <summary>The kept ordinals of one split, ascending (source order).</summary>
    /// <param name="split">Which split.</param>
    public int[] Ordinals(Qm9Split split)
    {
        var ordinals = new List<int>(Sizes[split]);
        for (int i = 0; i < _splitOf.Length; i++)
        {
            if (_splitOf[i] == split)
            {
                ordinals.Add(i);
            }
        }

        return [.. ordinals];
    }

    /// <summary>
    /// The 1-based GDB indices of one split for the official archive layout, where archive member <c>k</c> (0-based) holds
    /// <c>gdb k+1</c>: the kept indices of 1 … <paramref name="moleculeCount"/> in ascending order, taken at this split's
    /// ordinals. For <see cref="Official"/> and the official exclusions this is Cormorant's split, e.g. the <c>index</c>
    /// array of its <c>test.npz</c>.
    /// </summary>
    /// <param name="split">Which split.</param>
    /// <param name="exclusions">The excluded GDB indices.</param>
    /// <param name="moleculeCount">The number of molecules before exclusion (133,885 for QM9).</param>
    /// <exception cref="ArgumentException">The molecules kept by <paramref name="exclusions"/> are not <see cref="KeptCount"/>.</exception>
    public int[] GdbIndices(Qm9Split split, Qm9Exclusions exclusions, int moleculeCount = Qm9Exclusions.OfficialMoleculeCount)
    {
        ArgumentNullException.ThrowIfNull(exclusions);
        var kept = Enumerable.Range(1, moleculeCount).Where(i => !exclusions.Contains(i)).ToArray();
        if (kept.Length != KeptCount)
        {
            throw new ArgumentException($"{moleculeCount} molecules less {moleculeCount - kept.Length} excluded leave {kept.Length}, " +
                                        $"but the assignment covers {KeptCount} kept molecules.", nameof(exclusions));
        }

        return Ordinals(split).Select(o => kept[o]).ToArray();
    }
}
