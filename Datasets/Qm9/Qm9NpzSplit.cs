using LieConv.Datasets.Io;

namespace LieConv.Datasets.Qm9;

/// <summary>
/// One split file (<c>train.npz</c>, <c>valid.npz</c> or <c>test.npz</c>) written by the Cormorant/LieConv/EDM QM9
/// preparation: a zip of .npy arrays with <c>num_atoms</c>, <c>charges</c> (atomic numbers padded with 0),
/// <c>positions</c> (N, 29, 3) Å, <c>index</c> (1-based GDB index), the 15 properties in raw QM9 units
/// (float32) and the atom reference sums <c>&lt;t&gt;_thermo</c> (float64) that have <b>not</b> been subtracted yet.
/// </summary>
/// <remarks>
/// The arrays are held flat (about 10 MB for 100,000 molecules) and rows are built one at a time by <see cref="Rows"/>.
/// Conversion matches <see cref="Qm9Dataset"/>: t − t_thermo for zpve, U0, U, H, G, Cv, then Hartree → eV (zpve → meV).
/// The subtraction is done in double from the stored float32 values (Cormorant subtracts in float32); the file's own
/// float32 rounding of U0 ≈ −400 Ha (about 1 meV) cannot be undone: prefer the raw archive where that matters.
/// </remarks>
public sealed class Qm9NpzSplit
{
    private static readonly string[] PropertyKeys = ["A", "B", "C", "mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "Cv"];

    private readonly int[] _atomCounts;
    private readonly int[] _charges;
    private readonly float[] _positions;
    private readonly int[] _indices;
    private readonly double[]?[] _properties;
    private readonly double[]?[] _thermo;

    private Qm9NpzSplit(string source, int maxAtoms, int[] atomCounts, int[] charges, float[] positions, int[] indices,
        double[]?[] properties, double[]?[] thermo)
    {
        Source = source;
        MaxAtoms = maxAtoms;
        _atomCounts = atomCounts;
        _charges = charges;
        _positions = positions;
        _indices = indices;
        _properties = properties;
        _thermo = thermo;
    }

    /// <summary>The file the split was read from.</summary>
    public string Source { get; }

    /// <summary>The number of molecules.</summary>
    public int Count => _atomCounts.Length;

    /// <summary>The padded atom dimension of the file (29 for QM9).</summary>
    public int MaxAtoms { get; }

    /// <summary>Whether the file holds the <c>&lt;t&gt;_thermo</c> arrays for all six corrected targets.</summary>
    public bool HasAtomReferences => Qm9AtomReferences.Targets.All(t => _thermo[(int)t] is not null);

    /// <summary>Reads and validates a split file.</summary>
    /// <param name="path">The <c>.npz</c> file.</param>
    /// <exception cref="InvalidDataException">The file is not an .npz, a required array is missing or has the wrong shape,
    /// or a molecule's atoms are not QM9 elements followed by zero padding. The message names the file and the array.</exception>
    public static Qm9NpzSplit ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var arrays = Npy.ReadNpz(path);

        NpyArray Require(string key) => arrays.TryGetValue(key, out var array)
            ? array
            : throw new InvalidDataException($"{path}: no array '{key}'; expected a Cormorant QM9 split with num_atoms, charges, positions, index, " +
                                             $"{string.Join(" ", PropertyKeys)} and the *_thermo arrays. It holds: {string.Join(", ", arrays.Keys.Order(StringComparer.Ordinal))}.");

        var numAtoms = Require("num_atoms");
        CheckShape(path, numAtoms, "(N,)", numAtoms.Rank == 1);
        int count = checked((int)numAtoms.Shape[0]);

        var chargesArray = Require("charges");
        CheckShape(path, chargesArray, $"({count}, max atoms)", chargesArray.Rank == 2 && chargesArray.Shape[0] == count && chargesArray.Shape[1] > 0);
        int maxAtoms = checked((int)chargesArray.Shape[1]);

        var positionsArray = Require("positions");
        CheckShape(path, positionsArray, $"({count}, {maxAtoms}, 3)",
            positionsArray.Rank == 3 && positionsArray.Shape[0] == count && positionsArray.Shape[1] == maxAtoms && positionsArray.Shape[2] == 3);

        var indexArray = Require("index");
        CheckShape(path, indexArray, $"({count},)", indexArray.Rank == 1 && indexArray.Shape[0] == count);

        int[] atomCounts = Integers(path, numAtoms);
        int[] charges = Integers(path, chargesArray);
        int[] indices = Integers(path, indexArray);
        float[] positions = positionsArray.Type == NpyType.Float32 ? (float[])positionsArray.Data : positionsArray.ToSingles();

        var properties = new double[]?[PropertyKeys.Length];
        for (int p = 0; p < PropertyKeys.Length; p++)
        {
            bool isTargetProperty = Qm9Targets.All.Any(t => (int)Qm9Targets.Property(t) == p);
            if (!arrays.ContainsKey(PropertyKeys[p]) && !isTargetProperty)
            {
                continue; // A, B, C are no target: files without them still serve every target.
            }

            var array = Require(PropertyKeys[p]);
            CheckShape(path, array, $"({count},)", array.Rank == 1 && array.Shape[0] == count);
            properties[p] = array.ToDoubles();
        }

        var thermo = new double[]?[Qm9Targets.Count];
        foreach (var target in Qm9AtomReferences.Targets)
        {
            if (arrays.TryGetValue(Qm9Targets.Name(target) + "_thermo", out var array))
            {
                CheckShape(path, array, $"({count},)", array.Rank == 1 && array.Shape[0] == count);
                thermo[(int)target] = array.ToDoubles();
            }
        }

        for (int i = 0; i < count; i++)
        {
            int n = atomCounts[i];
            if (n < 1 || n > maxAtoms)
            {
                throw new InvalidDataException($"{path}, array 'num_atoms': molecule {i} has {n} atoms; expected 1 to {maxAtoms}.");
            }

            for (int a = 0; a < maxAtoms; a++)
            {
                int z = charges[i * maxAtoms + a];
                if (a < n ? !Qm9Elements.IsQm9Element(z) : z != 0)
                {
                    throw new InvalidDataException(
                        $"{path}, array 'charges': molecule {i} (num_atoms {n}) has Z = {z} at atom {a}; expected " +
                        (a < n ? "1, 6, 7, 8 or 9 for its real atoms." : "0 (padding) after its real atoms."));
                }
            }
        }

        return new Qm9NpzSplit(path, maxAtoms, atomCounts, charges, positions, indices, properties, thermo);
    }

    /// <summary>The number of atoms of molecule <paramref name="i"/>.</summary>
    /// <param name="i">0 … <see cref="Count"/>−1.</param>
    public int AtomCount(int i) => _atomCounts[i];

    /// <summary>The 1-based GDB index of molecule <paramref name="i"/>.</summary>
    /// <param name="i">0 … <see cref="Count"/>−1.</param>
    public int Index(int i) => _indices[i];

    /// <summary>The atomic numbers of molecule <paramref name="i"/>, without padding.</summary>
    /// <param name="i">0 … <see cref="Count"/>−1.</param>
    public ReadOnlySpan<int> AtomicNumbers(int i) => _charges.AsSpan(i * MaxAtoms, _atomCounts[i]);

    /// <summary>The positions of molecule <paramref name="i"/>, Å, row-major atoms × 3, without padding.</summary>
    /// <param name="i">0 … <see cref="Count"/>−1.</param>
    public ReadOnlySpan<float> Positions(int i) => _positions.AsSpan(i * MaxAtoms * 3, _atomCounts[i] * 3);

    /// <summary>A raw property of molecule <paramref name="i"/> (as stored: float32, raw QM9 units).</summary>
    /// <param name="property">Which property.</param>
    /// <param name="i">0 … <see cref="Count"/>−1.</param>
    /// <exception cref="InvalidOperationException">The file has no such array (only A, B, C may be absent).</exception>
    public double Property(Qm9Property property, int i) =>
        (_properties[(int)property] ?? throw new InvalidOperationException($"{Source}: there is no array '{PropertyKeys[(int)property]}'."))[i];

    /// <summary>The stored atom reference sum <c>&lt;t&gt;_thermo</c> of molecule <paramref name="i"/>, raw unit; 0 for targets
    /// without references.</summary>
    /// <param name="target">The target.</param>
    /// <param name="i">0 … <see cref="Count"/>−1.</param>
    /// <exception cref="InvalidOperationException">The target has references but the file has no <c>_thermo</c> array for it.</exception>
    public double AtomReferenceSum(Qm9Target target, int i) => !Qm9Targets.HasAtomReference(target)
        ? 0.0
        : (_thermo[(int)target] ?? throw new InvalidOperationException(
            $"{Source}: there is no array '{Qm9Targets.Name(target)}_thermo'; read the split with subtractAtomReferences: false or re-prepare it."))[i];

    /// <summary>Molecule <paramref name="i"/> as a row.</summary>
    /// <param name="i">0 … <see cref="Count"/>−1.</param>
    /// <param name="label">The target that becomes <see cref="Qm9Molecule.Label"/>.</param>
    /// <param name="subtractAtomReferences">Whether to subtract the stored <c>_thermo</c> sums (LieConv does).</param>
    public Qm9Molecule Row(int i, Qm9Target label, bool subtractAtomReferences = true)
    {
        var targets = new float[Qm9Targets.Count];
        foreach (var target in Qm9Targets.All)
        {
            double reference = subtractAtomReferences ? AtomReferenceSum(target, i) : 0.0;
            targets[(int)target] = Qm9Dataset.Convert(target, Property(Qm9Targets.Property(target), i), reference);
        }

        var z = AtomicNumbers(i);
        var charges = new float[z.Length];
        for (int a = 0; a < z.Length; a++)
        {
            charges[a] = z[a];
        }

        return new Qm9Molecule
        {
            Points = Positions(i).ToArray(),
            Charges = charges,
            Targets = targets,
            Label = targets[(int)label],
            Index = _indices[i],
        };
    }

    /// <summary>All molecules as rows, built lazily in file order.</summary>
    /// <param name="label">The target that becomes <see cref="Qm9Molecule.Label"/>.</param>
    /// <param name="subtractAtomReferences">Whether to subtract the stored <c>_thermo</c> sums (LieConv does).</param>
    /// <exception cref="InvalidOperationException">Subtracting was asked for but the file has no <c>_thermo</c> arrays.</exception>
    public IEnumerable<Qm9Molecule> Rows(Qm9Target label, bool subtractAtomReferences = true)
    {
        _ = Qm9Targets.Name(label);
        if (subtractAtomReferences && !HasAtomReferences)
        {
            throw new InvalidOperationException($"{Source}: the file has no *_thermo arrays to subtract; pass subtractAtomReferences: false.");
        }

        return RowsCore(label, subtractAtomReferences);
    }

    private IEnumerable<Qm9Molecule> RowsCore(Qm9Target label, bool subtractAtomReferences)
    {
        for (int i = 0; i < Count; i++)
        {
            yield return Row(i, label, subtractAtomReferences);
        }
    }

    private static void CheckShape(string path, NpyArray array, string expected, bool ok)
    {
        if (!ok)
        {
            throw new InvalidDataException($"{path}, array '{array.Name}': expected shape {expected}, found {NpyArray.FormatShape(array.Shape)}.");
        }
    }

    private static int[] Integers(string path, NpyArray array)
    {
        try
        {
            return array.ToInt32s();
        }
        catch (InvalidCastException e)
        {
            throw new InvalidDataException($"{path}, array '{array.Name}': expected integers, but {e.Message}", e);
        }
    }
}
