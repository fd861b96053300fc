using LieConv.Datasets.Qm9;

namespace LieConv.Datasets.Io;

/// <summary>
/// One molecule as the original QM9 <c>.xyz</c> format stores it (one <c>dsgdb9nsd_NNNNNN.xyz</c> file of the official
/// archive): every number in double precision and raw QM9 units, nothing subtracted or converted.
/// </summary>
/// <remarks>
/// The original preparation code parsed these numbers straight into float32, so U0 ≈ −400 Hartree kept only about
/// 1 meV of resolution before the atom references were subtracted; here they stay doubles until the target is formed.
/// </remarks>
public sealed class Qm9XyzMolecule
{
    private readonly double[] _properties;
    private readonly int[] _atomicNumbers;
    private readonly double[] _positions;
    private readonly double[] _mullikenCharges;
    private readonly double[] _frequencies;

    /// <summary>Creates a molecule from already-validated parts; the arrays are kept, not copied.</summary>
    /// <param name="index">The 1-based GDB index from the <c>gdb</c> line.</param>
    /// <param name="properties">The 15 properties in <see cref="Qm9Property"/> order.</param>
    /// <param name="atomicNumbers">Z of each atom.</param>
    /// <param name="positions">Row-major (atoms × 3) coordinates, Å.</param>
    /// <param name="mullikenCharges">Mulliken partial charge of each atom, e.</param>
    /// <param name="frequencies">The harmonic frequencies, cm⁻¹.</param>
    /// <param name="gdbSmiles">The SMILES from GDB-17.</param>
    /// <param name="relaxedSmiles">The SMILES of the relaxed geometry.</param>
    /// <param name="gdbInchi">The InChI from GDB-17.</param>
    /// <param name="relaxedInchi">The InChI of the relaxed geometry.</param>
    /// <exception cref="ArgumentException">The array lengths disagree with each other.</exception>
    public Qm9XyzMolecule(int index, double[] properties, int[] atomicNumbers, double[] positions, double[] mullikenCharges,
        double[] frequencies, string gdbSmiles, string relaxedSmiles, string gdbInchi, string relaxedInchi)
    {
        ArgumentNullException.ThrowIfNull(properties);
        ArgumentNullException.ThrowIfNull(atomicNumbers);
        ArgumentNullException.ThrowIfNull(positions);
        ArgumentNullException.ThrowIfNull(mullikenCharges);
        ArgumentNullException.ThrowIfNull(frequencies);
        if (properties.Length != Qm9XyzParser.PropertyCount)
        {
            throw new ArgumentException($"Expected {Qm9XyzParser.PropertyCount} properties, got {properties.Length}.", nameof(properties));
        }

        if (positions.Length != 3 * atomicNumbers.Length || mullikenCharges.Length != atomicNumbers.Length)
        {
            throw new ArgumentException(
                $"{atomicNumbers.Length} atoms need {3 * atomicNumbers.Length} coordinates and {atomicNumbers.Length} charges; " +
                $"got {positions.Length} and {mullikenCharges.Length}.", nameof(positions));
        }

        Index = index;
        _properties = properties;
        _atomicNumbers = atomicNumbers;
        _positions = positions;
        _mullikenCharges = mullikenCharges;
        _frequencies = frequencies;
        GdbSmiles = gdbSmiles ?? throw new ArgumentNullException(nameof(gdbSmiles));
        RelaxedSmiles = relaxedSmiles ?? throw new ArgumentNullException(nameof(relaxedSmiles));
        GdbInchi = gdbInchi ?? throw new ArgumentNullException(nameof(gdbInchi));
        RelaxedInchi = relaxedInchi ?? throw new ArgumentNullException(nameof(relaxedInchi));
    }

    /// <summary>The 1-based GDB index (<c>gdb 1</c> is methane).</summary>
    public int Index { get; }

    /// <summary>The number of atoms.</summary>
    public int AtomCount => _atomicNumbers.Length;

    /// <summary>The 15 properties in <see cref="Qm9Property"/> order, raw units.</summary>
    public IReadOnlyList<double> Properties => _properties;

    /// <summary>Atomic number Z of each atom (H 1, C 6, N 7, O 8, F 9).</summary>
    public IReadOnlyList<int> AtomicNumbers => _atomicNumbers;

    /// <summary>Coordinates, Å, row-major: atom <c>i</c> is at entries <c>3i … 3i+2</c>.</summary>
    public IReadOnlyList<double> Positions => _positions;

    /// <summary>Mulliken partial charge of each atom, e.</summary>
    public IReadOnlyList<double> MullikenCharges => _mullikenCharges;

    /// <summary>The harmonic vibrational frequencies, cm⁻¹ (normally 3n−6, or 3n−5 for linear molecules; a few
    /// unconverged molecules list more). A negative value is an imaginary frequency.</summary>
    public IReadOnlyList<double> Frequencies => _frequencies;

    /// <summary>The largest harmonic frequency, cm⁻¹: what Cormorant stores as <c>omega1</c>.</summary>
    public double Omega1 => _frequencies.Max();

    /// <summary>The SMILES from GDB-17.</summary>
    public string GdbSmiles { get; }

    /// <summary>The SMILES of the relaxed (B3LYP) geometry.</summary>
    public string RelaxedSmiles { get; }

    /// <summary>The InChI from GDB-17.</summary>
    public string GdbInchi { get; }

    /// <summary>The InChI of the relaxed (B3LYP) geometry.</summary>
    public string RelaxedInchi { get; }

    /// <summary>One property, raw units.</summary>
    /// <param name="property">Which property.</param>
    public double this[Qm9Property property] => _properties[(int)property];

    internal double[] PropertyArray => _properties;

    internal int[] AtomicNumberArray => _atomicNumbers;

    internal double[] PositionArray => _positions;

    /// <summary>The GDB index, atom count and molecular formula, e.g. <c>gdb 1 (5 atoms, CH4)</c>.</summary>
    public override string ToString() => $"gdb {Index} ({AtomCount} atoms, {Qm9Elements.Formula(_atomicNumbers)})";
}
