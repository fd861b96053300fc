using System.Globalization;

namespace LieConv.Datasets.Qm9;

/// <summary>
/// Per-element reference values of the QM9 <c>atomref.txt</c> ("thermochemical energies"): for each of H, C, N, O, F
/// the ZPVE, U(0 K), U(298.15 K), H(298.15 K), G(298.15 K) (Hartree) and Cv (cal/(mol·K)) of the free atom. Summed
/// over a molecule's atoms and subtracted from zpve, U0, U, H, G and Cv, they turn total energies into atomisation
/// energies, as LieConv/Cormorant do.
/// </summary>
public sealed class Qm9AtomReferences
{
    /// <summary>The targets that have reference values, in the column order of <c>atomref.txt</c>.</summary>
    public static IReadOnlyList<Qm9Target> Targets { get; } = [Qm9Target.Zpve, Qm9Target.U0, Qm9Target.U, Qm9Target.H, Qm9Target.G, Qm9Target.Cv];

    // Rows H, C, N, O, F; columns as Targets. Copied from the figshare atomref.txt (reference §4.2).
    private static readonly double[,] OfficialValues =
    {
        { 0, -0.500273, -0.498857, -0.497912, -0.510927, 2.981 },
        { 0, -37.846772, -37.845355, -37.844411, -37.861317, 2.981 },
        { 0, -54.583861, -54.582445, -54.581501, -54.598897, 2.981 },
        { 0, -75.064579, -75.063163, -75.062219, -75.079532, 2.981 },
        { 0, -99.718730, -99.717314, -99.716370, -99.733544, 2.981 },
    };

    // Indexed [Z, target]; zero for targets without references, so sums need no branch.
    private readonly double[,] _byAtomicNumber = new double[10, Qm9Targets.Count];

    private Qm9AtomReferences(double[,] rows)
    {
        for (int e = 0; e < Qm9Elements.AtomicNumbers.Count; e++)
        {
            for (int c = 0; c < Targets.Count; c++)
            {
                _byAtomicNumber[Qm9Elements.AtomicNumbers[e], (int)Targets[c]] = rows[e, c];
            }
        }
    }

    /// <summary>The values of the official <c>atomref.txt</c> (B3LYP/6-31G(2df,p)), built in so no download is needed.</summary>
    public static Qm9AtomReferences Official { get; } = new(OfficialValues);

    /// <summary>Reads an <c>atomref.txt</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidDataException">A row is malformed or an element is missing.</exception>
    public static Qm9AtomReferences ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var reader = new StreamReader(path);
        return Read(reader, path);
    }

    /// <summary>
    /// Reads <c>atomref.txt</c> text the way Cormorant does: a row is a line whose first token is H, C, N, O or F, and its
    /// next six numbers are ZPVE, U(0 K), U, H, G (Hartree) and Cv; every other line (headers, rules) is skipped. As in
    /// Cormorant, a later row for the same element replaces an earlier one.
    /// </summary>
    /// <param name="reader">The text, left open.</param>
    /// <param name="source">Names the text in error messages, e.g. its path.</param>
    /// <exception cref="InvalidDataException">A row has fewer than six numbers, or an element has no row.</exception>
    public static Qm9AtomReferences Read(TextReader reader, string source)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(source);
        var rows = new double[Qm9Elements.AtomicNumbers.Count, Targets.Count];
        var seen = new bool[Qm9Elements.AtomicNumbers.Count];
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            int element = fields.Length == 0 ? -1 : IndexOfSymbol(fields[0]);
            if (element < 0)
            {
                continue;
            }

            if (fields.Length < 1 + Targets.Count)
            {
                throw new InvalidDataException($"{source}, line {lineNumber}: expected element {fields[0]} to be followed by {Targets.Count} numbers " +
                                               $"(ZPVE, U(0 K), U, H, G, Cv), found {fields.Length - 1}.");
            }

            for (int c = 0; c < Targets.Count; c++)
            {
                if (!double.TryParse(fields[1 + c], NumberStyles.Float, CultureInfo.InvariantCulture, out rows[element, c]) || !double.IsFinite(rows[element, c]))
                {
                    throw new InvalidDataException($"{source}, line {lineNumber}: expected the {Qm9Targets.Name(Targets[c])} reference of {fields[0]} " +
                                                   $"to be a finite number, found '{fields[1 + c]}'.");
                }
            }

            seen[element] = true;
        }

        var missing = Enumerable.Range(0, seen.Length).Where(e => !seen[e]).Select(e => Qm9Elements.Symbols[e]).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidDataException($"{source}: expected a reference row for each of H, C, N, O and F, but {string.Join(", ", missing)} has none.");
        }

        return new Qm9AtomReferences(rows);
    }

    /// <summary>The reference value of one element for one target: Hartree for energies, cal/(mol·K) for Cv, and 0 for
    /// targets without references (alpha, gap, homo, lumo, mu, r2).</summary>
    /// <param name="target">The target.</param>
    /// <param name="atomicNumber">1, 6, 7, 8 or 9.</param>
    /// <exception cref="ArgumentOutOfRangeException">Z is not a QM9 element.</exception>
    public double this[Qm9Target target, int atomicNumber] =>
        Qm9Elements.IsQm9Element(atomicNumber)
            ? _byAtomicNumber[atomicNumber, (int)target]
            : throw new ArgumentOutOfRangeException(nameof(atomicNumber), atomicNumber, "QM9 holds only H, C, N, O and F (Z = 1, 6, 7, 8, 9).");

    /// <summary>The sum of the atoms' reference values for one target, in the raw unit (Cormorant's <c>&lt;t&gt;_thermo</c>).</summary>
    /// <param name="target">The target.</param>
    /// <param name="atomicNumbers">Z of each atom; zeros (padding) are skipped.</param>
    /// <exception cref="ArgumentOutOfRangeException">A nonzero Z is not a QM9 element.</exception>
    public double Sum(Qm9Target target, ReadOnlySpan<int> atomicNumbers)
    {
        Span<int> counts = stackalloc int[10];
        foreach (int z in atomicNumbers)
        {
            if (z != 0)
            {
                counts[Qm9Elements.IsQm9Element(z) ? z : throw new ArgumentOutOfRangeException(nameof(atomicNumbers), z, "not a QM9 element")]++;
            }
        }

        // Cormorant adds reference × count per element in ascending Z; the same order reproduces its sums bit for bit.
        double sum = 0;
        foreach (int z in Qm9Elements.AtomicNumbers)
        {
            if (counts[z] > 0)
            {
                sum += _byAtomicNumber[z, (int)target] * counts[z];
            }
        }

        return sum;
    }

    private static int IndexOfSymbol(string symbol)
    {
        for (int e = 0; e < Qm9Elements.Symbols.Count; e++)
        {
            if (Qm9Elements.Symbols[e] == symbol)
            {
                return e;
            }
        }

        return -1;
    }
}
