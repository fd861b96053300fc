namespace LieConv.Datasets.Qm9;

/// <summary>
/// The 15 scalar properties of a QM9 molecule, in the order of its <c>gdb</c> line (and of the Cormorant/LieConv
/// <c>.npz</c> keys <c>A B C mu alpha homo lumo gap r2 zpve U0 U H G Cv</c>). Values are in the raw QM9 units
/// given on each member.
/// </summary>
public enum Qm9Property
{
    /// <summary>Rotational constant A, GHz.</summary>
    A,

    /// <summary>Rotational constant B, GHz.</summary>
    B,

    /// <summary>Rotational constant C, GHz.</summary>
    C,

    /// <summary>Dipole moment μ, Debye.</summary>
    Mu,

    /// <summary>Isotropic polarisability α, bohr³.</summary>
    Alpha,

    /// <summary>Energy of the highest occupied molecular orbital, Hartree.</summary>
    Homo,

    /// <summary>Energy of the lowest unoccupied molecular orbital, Hartree.</summary>
    Lumo,

    /// <summary>HOMO–LUMO gap, Hartree.</summary>
    Gap,

    /// <summary>Electronic spatial extent ⟨R²⟩, bohr².</summary>
    R2,

    /// <summary>Zero-point vibrational energy, Hartree.</summary>
    Zpve,

    /// <summary>Internal energy at 0 K, Hartree.</summary>
    U0,

    /// <summary>Internal energy at 298.15 K, Hartree.</summary>
    U,

    /// <summary>Enthalpy at 298.15 K, Hartree.</summary>
    H,

    /// <summary>Free energy at 298.15 K, Hartree.</summary>
    G,

    /// <summary>Heat capacity at 298.15 K, cal/(mol·K).</summary>
    Cv,
}

/// <summary>
/// The 12 regression targets of LieConv's QM9 experiments, in the order of its task list
/// (<c>alpha gap homo lumo mu Cv G H r2 U U0 zpve</c>); the value of each member is its position in
/// <see cref="Qm9Molecule.Targets"/>.
/// </summary>
public enum Qm9Target
{
    /// <summary>Polarisability α, bohr³ (unchanged).</summary>
    Alpha,

    /// <summary>HOMO–LUMO gap, eV.</summary>
    Gap,

    /// <summary>HOMO energy, eV.</summary>
    Homo,

    /// <summary>LUMO energy, eV.</summary>
    Lumo,

    /// <summary>Dipole moment μ, Debye (unchanged).</summary>
    Mu,

    /// <summary>Heat capacity, cal/(mol·K), minus the atom references (LieConv corrects Cv too).</summary>
    Cv,

    /// <summary>Free energy at 298.15 K minus the atom references (atomisation free energy), eV.</summary>
    G,

    /// <summary>Enthalpy at 298.15 K minus the atom references (atomisation enthalpy), eV.</summary>
    H,

    /// <summary>Electronic spatial extent ⟨R²⟩, bohr² (unchanged).</summary>
    R2,

    /// <summary>Internal energy at 298.15 K minus the atom references, eV.</summary>
    U,

    /// <summary>Internal energy at 0 K minus the atom references (atomisation energy), eV.</summary>
    U0,

    /// <summary>Zero-point vibrational energy, meV (its atom references are all zero).</summary>
    Zpve,
}

/// <summary>
/// Names, units and conversions of the <see cref="Qm9Target"/>s, as LieConv (via Cormorant's <c>QM9datasets</c>)
/// defines them.
/// </summary>
public static class Qm9Targets
{
    /// <summary>The Hartree → eV factor LieConv/Cormorant use (not the CODATA 27.211386…, so that MAEs compare).</summary>
    public const double HartreeToElectronvolt = 27.2114;

    /// <summary>The Hartree → meV factor LieConv/Cormorant use for zpve.</summary>
    public const double HartreeToMillielectronvolt = 27211.4;

    /// <summary>The number of targets, 12.</summary>
    public const int Count = 12;

    private static readonly string[] Names = ["alpha", "gap", "homo", "lumo", "mu", "Cv", "G", "H", "r2", "U", "U0", "zpve"];

    private static readonly Qm9Property[] Properties =
    [
        Qm9Property.Alpha, Qm9Property.Gap, Qm9Property.Homo, Qm9Property.Lumo, Qm9Property.Mu, Qm9Property.Cv,
        Qm9Property.G, Qm9Property.H, Qm9Property.R2, Qm9Property.U, Qm9Property.U0, Qm9Property.Zpve,
    ];

    /// <summary>All 12 targets in <see cref="Qm9Molecule.Targets"/> order.</summary>
    public static IReadOnlyList<Qm9Target> All { get; } = Enum.GetValues<Qm9Target>();

    /// <summary>The target's name as LieConv spells it (its <c>task</c> argument and <c>.npz</c> key): alpha, gap, homo,
    /// lumo, mu, Cv, G, H, r2, U, U0 or zpve.</summary>
    /// <param name="target">The target.</param>
    public static string Name(Qm9Target target) => Names[Checked(target)];

    /// <summary>The raw QM9 property a target is derived from.</summary>
    /// <param name="target">The target.</param>
    public static Qm9Property Property(Qm9Target target) => Properties[Checked(target)];

    /// <summary>The factor from the raw QM9 unit to the target's unit: ×27.2114 for homo, lumo, gap, U0, U, H, G
    /// (Hartree → eV), ×27211.4 for zpve (Hartree → meV), 1 otherwise.</summary>
    /// <param name="target">The target.</param>
    public static double UnitFactor(Qm9Target target) => Checked(target) switch
    {
        (int)Qm9Target.Zpve => HartreeToMillielectronvolt,
        (int)Qm9Target.Gap or (int)Qm9Target.Homo or (int)Qm9Target.Lumo or (int)Qm9Target.U0 or (int)Qm9Target.U
            or (int)Qm9Target.H or (int)Qm9Target.G => HartreeToElectronvolt,
        _ => 1.0,
    };

    /// <summary>The unit of the converted target: eV, meV, D, bohr³, bohr² or cal/(mol·K).</summary>
    /// <param name="target">The target.</param>
    public static string Unit(Qm9Target target) => target switch
    {
        Qm9Target.Alpha => "bohr³",
        Qm9Target.Mu => "D",
        Qm9Target.R2 => "bohr²",
        Qm9Target.Cv => "cal/(mol·K)",
        Qm9Target.Zpve => "meV",
        _ => UnitFactor(target) == HartreeToElectronvolt ? "eV" : throw new ArgumentOutOfRangeException(nameof(target), target, null),
    };

    /// <summary>Whether the target has atom reference values that LieConv subtracts: zpve, U0, U, H, G and Cv.</summary>
    /// <param name="target">The target.</param>
    public static bool HasAtomReference(Qm9Target target) =>
        Checked(target) is (int)Qm9Target.Zpve or (int)Qm9Target.U0 or (int)Qm9Target.U or (int)Qm9Target.H
            or (int)Qm9Target.G or (int)Qm9Target.Cv;

    /// <summary>Finds a target by name, ignoring case (the 12 names stay distinct without case): "homo", "U0", "cv".</summary>
    /// <param name="name">A name as <see cref="Name"/> spells it, in any case; surrounding white space is ignored.</param>
    /// <exception cref="ArgumentException">No target has that name; the message lists the valid names.</exception>
    public static Qm9Target Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return TryParse(name, out var target)
            ? target
            : throw new ArgumentException($"'{name}' is not a QM9 target; expected one of {string.Join(", ", Names)} (case does not matter).", nameof(name));
    }

    /// <summary>Finds a target by name, ignoring case.</summary>
    /// <param name="name">A name as <see cref="Name"/> spells it, in any case.</param>
    /// <param name="target">The target found, or <see cref="Qm9Target.Alpha"/> when none was.</param>
    /// <returns>Whether a target has that name.</returns>
    public static bool TryParse(string? name, out Qm9Target target)
    {
        int i = name is null ? -1 : Array.FindIndex(Names, n => string.Equals(n, name.Trim(), StringComparison.OrdinalIgnoreCase));
        target = i < 0 ? default : (Qm9Target)i;
        return i >= 0;
    }

    private static int Checked(Qm9Target target) =>
        (uint)target < Count ? (int)target : throw new ArgumentOutOfRangeException(nameof(target), target, "not a QM9 target");
}
