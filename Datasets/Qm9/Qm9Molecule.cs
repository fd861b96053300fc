using Microsoft.ML.Data;

namespace LieConv.Datasets.Qm9;

/// <summary>
/// One QM9 molecule as an ML.NET row: the atoms as a point cloud (<see cref="Points"/>, <see cref="Charges"/>), the
/// selected target as <see cref="Label"/>, and all 12 targets in converted units.
/// </summary>
/// <remarks>
/// Only real atoms are stored (no padding to 29): the LieConv point-cloud reader pads each batch itself. Targets are
/// formed in double precision (raw value − atom references, then × unit factor) and only then rounded to float.
/// </remarks>
public sealed class Qm9Molecule
{
    /// <summary>Atom coordinates, Å (or recentred units after <see cref="Qm9PositionStatistics.Recenter"/>), row-major
    /// atoms × 3.</summary>
    [VectorType(0, 3)]
    public float[] Points { get; set; } = [];

    /// <summary>The atomic number Z of each atom as a float (1, 6, 7, 8 or 9); LieConv featurises these.</summary>
    [VectorType(0)]
    public float[] Charges { get; set; } = [];

    /// <summary>The selected target in its converted unit (see <see cref="Qm9Targets.Unit"/>).</summary>
    public float Label { get; set; }

    /// <summary>All 12 targets in converted units, indexed by <see cref="Qm9Target"/>.</summary>
    [VectorType(Qm9Targets.Count)]
    public float[] Targets { get; set; } = new float[Qm9Targets.Count];

    /// <summary>The 1-based GDB index of the molecule (<c>gdb 1</c> is methane).</summary>
    public int Index { get; set; }

    /// <summary>The number of atoms.</summary>
    [NoColumn]
    public int AtomCount => Charges.Length;

    /// <summary>One target in its converted unit.</summary>
    /// <param name="target">Which target.</param>
    public float GetTarget(Qm9Target target) => Targets[(int)target];

    /// <summary>A copy whose <see cref="Label"/> is <paramref name="target"/> (arrays are shared, not copied).</summary>
    /// <param name="target">The target to use as label.</param>
    public Qm9Molecule WithLabel(Qm9Target target) => new()
    {
        Points = Points,
        Charges = Charges,
        Targets = Targets,
        Index = Index,
        Label = GetTarget(target),
    };

    /// <summary>The GDB index, atom count and selected label, e.g. <c>gdb 1 (5 atoms), label -17.17</c>.</summary>
    public override string ToString() => $"gdb {Index} ({AtomCount} atoms), label {Label:G6}";
}
