using LieConv.Datasets.Io;

namespace LieConv.Datasets.Qm9;

/// <summary>
/// The QM9 preparation of Cormorant/LieConv (reference §4.2) applied lazily to raw molecules: drop the excluded
/// (uncharacterized) molecules, assign the kept ones to train/valid/test with NumPy's seeded permutation, subtract the
/// atom references from zpve, U0, U, H, G and Cv, and convert units (Hartree → eV, zpve → meV).
/// </summary>
/// <remarks>
/// <para>Kept molecules are numbered in source order (archive order for <see cref="Qm9XyzReader.ReadTarBz2"/>) and each
/// split keeps that order. Exclusion goes by the GDB index on each molecule's <c>gdb</c> line; Cormorant went by archive
/// position, which is the same thing for the official archive (member k holds <c>gdb k+1</c>) and also works for
/// subsets such as a folder holding only some molecules.</para>
/// <para>Nothing is cached: each enumeration of <see cref="Read"/> reads the source again (a full pass over the
/// 86 MB archive), which keeps memory flat. The source must yield exactly <see cref="Qm9SplitAssignment.KeptCount"/>
/// kept molecules; any other number would silently give different splits, so it is an error at the end of the pass.</para>
/// <para>Fix of the seed code (reference §7.12): values are parsed and corrected in double and rounded to float only
/// at the end; Cormorant parsed into float32 first.</para>
/// </remarks>
public sealed class Qm9Dataset
{
    private readonly IEnumerable<Qm9XyzMolecule> _source;

    /// <summary>Prepares <paramref name="source"/> with an explicit split assignment.</summary>
    /// <param name="source">Raw molecules in source order, re-enumerable (every <see cref="Qm9XyzReader"/> result is).</param>
    /// <param name="exclusions">The molecules to drop, e.g. <see cref="Qm9Exclusions.ReadFile"/> of <c>uncharacterized.txt</c>.</param>
    /// <param name="assignment">The split of the kept molecules; its <see cref="Qm9SplitAssignment.KeptCount"/> must be
    /// the number of kept molecules in <paramref name="source"/>.</param>
    /// <param name="atomReferences">The reference values to subtract; <see cref="Qm9AtomReferences.Official"/> by default.</param>
    /// <param name="subtractAtomReferences">Whether to subtract them (LieConv does); false keeps total energies.</param>
    public Qm9Dataset(IEnumerable<Qm9XyzMolecule> source, Qm9Exclusions exclusions, Qm9SplitAssignment assignment,
        Qm9AtomReferences? atomReferences = null, bool subtractAtomReferences = true)
    {
        _source = source ?? throw new ArgumentNullException(nameof(source));
        Exclusions = exclusions ?? throw new ArgumentNullException(nameof(exclusions));
        Assignment = assignment ?? throw new ArgumentNullException(nameof(assignment));
        AtomReferences = atomReferences ?? Qm9AtomReferences.Official;
        SubtractAtomReferences = subtractAtomReferences;
    }

    /// <summary>The excluded molecules.</summary>
    public Qm9Exclusions Exclusions { get; }

    /// <summary>The split of the kept molecules.</summary>
    public Qm9SplitAssignment Assignment { get; }

    /// <summary>The atom reference values used when <see cref="SubtractAtomReferences"/> is set.</summary>
    public Qm9AtomReferences AtomReferences { get; }

    /// <summary>Whether zpve, U0, U, H, G and Cv have the atom references subtracted.</summary>
    public bool SubtractAtomReferences { get; }

    /// <summary>
    /// Cormorant's exact QM9 preparation from the official files: <c>dsgdb9nsd.xyz.tar.bz2</c> streamed in archive
    /// order, the 3,054 exclusions of <c>uncharacterized.txt</c> (count checked), the seed-0 split 100,000 / 17,748 / 13,083.
    /// </summary>
    /// <param name="archivePath">The official <c>dsgdb9nsd.xyz.tar.bz2</c>.</param>
    /// <param name="uncharacterizedPath">The official <c>uncharacterized.txt</c>.</param>
    /// <param name="atomReferencesPath">An <c>atomref.txt</c> to read; null uses the built-in official values.</param>
    public static Qm9Dataset FromOfficialFiles(string archivePath, string uncharacterizedPath, string? atomReferencesPath = null)
    {
        ArgumentNullException.ThrowIfNull(archivePath);
        ArgumentNullException.ThrowIfNull(uncharacterizedPath);
        var references = atomReferencesPath is null ? Qm9AtomReferences.Official : Qm9AtomReferences.ReadFile(atomReferencesPath);
        return new Qm9Dataset(Qm9XyzReader.ReadTarBz2(archivePath), Qm9Exclusions.ReadFile(uncharacterizedPath), Qm9SplitAssignment.Official, references);
    }

    /// <summary>
    /// Prepares a source of any size: one pass counts the kept molecules, then the split is drawn for that count with
    /// <see cref="Qm9SplitSizes.For"/> sizes (or the given ones). For the full official set this equals
    /// <see cref="FromOfficialFiles"/>'s split.
    /// </summary>
    /// <param name="source">Raw molecules in source order, re-enumerable.</param>
    /// <param name="exclusions">The molecules to drop.</param>
    /// <param name="sizes">Split sizes whose total must equal the kept count; null scales Cormorant's sizes.</param>
    /// <param name="seed">The legacy NumPy seed; Cormorant uses 0.</param>
    /// <param name="atomReferences">The reference values to subtract; <see cref="Qm9AtomReferences.Official"/> by default.</param>
    /// <exception cref="ArgumentException"><paramref name="sizes"/> do not add up to the kept count.</exception>
    public static Qm9Dataset Create(IEnumerable<Qm9XyzMolecule> source, Qm9Exclusions exclusions, Qm9SplitSizes? sizes = null,
        uint seed = 0, Qm9AtomReferences? atomReferences = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(exclusions);
        int kept = source.Count(m => !exclusions.Contains(m.Index));
        if (sizes is not null && sizes.Total != kept)
        {
            throw new ArgumentException($"The split sizes {sizes} add up to {sizes.Total}, but the source keeps {kept} molecules.", nameof(sizes));
        }

        return new Qm9Dataset(source, exclusions, Qm9SplitAssignment.Create(sizes ?? Qm9SplitSizes.For(kept), seed), atomReferences);
    }

    /// <summary>The molecules of one split as rows, lazily, in source order.</summary>
    /// <param name="split">Which split.</param>
    /// <param name="label">The target that becomes <see cref="Qm9Molecule.Label"/>.</param>
    /// <exception cref="InvalidDataException">(On enumeration.) A source file is malformed, or the source keeps more or
    /// fewer molecules than the assignment covers.</exception>
    public IEnumerable<Qm9Molecule> Read(Qm9Split split, Qm9Target label)
    {
        _ = Qm9Targets.Name(label);
        if (!Enum.IsDefined(split))
        {
            throw new ArgumentOutOfRangeException(nameof(split), split, null);
        }

        return ReadCore(split, label);
    }

    /// <summary>Converts one raw molecule into a row: atom references subtracted (optional), units converted.</summary>
    /// <param name="molecule">The raw molecule.</param>
    /// <param name="label">The target that becomes <see cref="Qm9Molecule.Label"/>.</param>
    /// <param name="atomReferences">The values to subtract, or null to subtract nothing.</param>
    public static Qm9Molecule ToRow(Qm9XyzMolecule molecule, Qm9Target label, Qm9AtomReferences? atomReferences)
    {
        ArgumentNullException.ThrowIfNull(molecule);
        return BuildRow(molecule.Index, molecule.AtomicNumberArray, molecule.PositionArray, molecule.PropertyArray, label, atomReferences);
    }

    /// <summary>Mean and standard deviation of every target over the training split (one pass over the source).</summary>
    public Qm9TargetStatistics ComputeTargetStatistics() => Qm9TargetStatistics.Compute(Read(Qm9Split.Train, Qm9Target.Alpha));

    /// <summary>LieConv's recentring statistics over the training split (one pass over the source).</summary>
    public Qm9PositionStatistics ComputePositionStatistics() => Qm9PositionStatistics.Compute(Read(Qm9Split.Train, Qm9Target.Alpha));

    /// <summary>A row from raw parts: positions rounded to float, targets formed in double.</summary>
    internal static Qm9Molecule BuildRow(int index, int[] atomicNumbers, double[] positions, double[] properties, Qm9Target label, Qm9AtomReferences? atomReferences)
    {
        _ = Qm9Targets.Name(label);
        var points = new float[positions.Length];
        for (int i = 0; i < points.Length; i++)
        {
            points[i] = (float)positions[i];
        }

        var targets = new float[Qm9Targets.Count];
        foreach (var target in Qm9Targets.All)
        {
            double reference = atomReferences is not null && Qm9Targets.HasAtomReference(target) ? atomReferences.Sum(target, atomicNumbers) : 0.0;
            targets[(int)target] = Convert(target, properties[(int)Qm9Targets.Property(target)], reference);
        }

        return new Qm9Molecule
        {
            Points = points,
            Charges = Array.ConvertAll(atomicNumbers, static v => (float)v),
            Targets = targets,
            Label = targets[(int)label],
            Index = index,
        };
    }

    /// <summary>(raw − reference) × unit factor, in double, rounded to float once.</summary>
    internal static float Convert(Qm9Target target, double raw, double reference) => (float)((raw - reference) * Qm9Targets.UnitFactor(target));

    private IEnumerable<Qm9Molecule> ReadCore(Qm9Split split, Qm9Target label)
    {
        var references = SubtractAtomReferences ? AtomReferences : null;
        int ordinal = 0;
        foreach (var molecule in _source)
        {
            if (Exclusions.Contains(molecule.Index))
            {
                continue;
            }

            if (ordinal >= Assignment.KeptCount)
            {
                throw new InvalidDataException(
                    $"The QM9 source keeps more than the {Assignment.KeptCount} molecules the split assignment covers (found {molecule} after them); " +
                    "use Qm9Dataset.Create to size the split for this source.");
            }

            if (Assignment[ordinal++] == split)
            {
                yield return ToRow(molecule, label, references);
            }
        }

        if (ordinal != Assignment.KeptCount)
        {
            throw new InvalidDataException(
                $"The QM9 source keeps {ordinal} molecules, but the split assignment covers {Assignment.KeptCount}; the source is incomplete " +
                "(a truncated archive?) or the assignment belongs to another source. Use Qm9Dataset.Create to size the split for this source.");
        }
    }
}
