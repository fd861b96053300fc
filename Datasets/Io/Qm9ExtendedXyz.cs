using System.Globalization;
using System.Text.RegularExpressions;
using LieConv.Datasets.Qm9;

namespace LieConv.Datasets.Io;

/// <summary>A QM9 molecule from an ASE extended-XYZ file: atoms, positions and the 15 properties, no GDB index.</summary>
public sealed class Qm9ExtendedXyzMolecule
{
    private readonly int[] _atomicNumbers;
    private readonly double[] _positions;
    private readonly double[] _properties;

    internal Qm9ExtendedXyzMolecule(int[] atomicNumbers, double[] positions, double[] properties)
    {
        _atomicNumbers = atomicNumbers;
        _positions = positions;
        _properties = properties;
    }

    /// <summary>The number of atoms.</summary>
    public int AtomCount => _atomicNumbers.Length;

    /// <summary>Atomic number Z of each atom.</summary>
    public IReadOnlyList<int> AtomicNumbers => _atomicNumbers;

    /// <summary>Coordinates, Å, row-major atoms × 3.</summary>
    public IReadOnlyList<double> Positions => _positions;

    /// <summary>The 15 properties in <see cref="Qm9Property"/> order, raw QM9 units (energies in Hartree).</summary>
    public IReadOnlyList<double> Properties => _properties;

    /// <summary>One property, raw units.</summary>
    /// <param name="property">Which property.</param>
    public double this[Qm9Property property] => _properties[(int)property];

    /// <summary>The molecule as a row, converted as <see cref="Qm9Dataset.ToRow"/> does.</summary>
    /// <param name="index">The GDB index to record (the file stores none), or 0 when unknown.</param>
    /// <param name="label">The target that becomes the label.</param>
    /// <param name="atomReferences">The values to subtract, or null to subtract nothing.</param>
    public Qm9Molecule ToRow(int index, Qm9Target label, Qm9AtomReferences? atomReferences) =>
        Qm9Dataset.BuildRow(index, _atomicNumbers, _positions, _properties, label, atomReferences);
}

/// <summary>
/// Reads QM9 molecules from ASE extended-XYZ text (as in metatrain's <c>qm9_reduced_100.xyz</c>): a count line, a
/// comment line <c>Properties=species:S:1:pos:R:3 A=… B=… … Cv=… pbc="F F F"</c>, then <c>element x y z</c> per atom.
/// Property keys are the QM9 names, with ASE's spellings <c>epsHOMO</c>, <c>epsLUMO</c>, <c>epsgap</c> and <c>&lt;R2&gt;</c>
/// also accepted. Lazy like <see cref="Qm9XyzReader"/>; errors name file and line.
/// </summary>
public static partial class Qm9ExtendedXyzReader
{
    private static readonly Dictionary<string, Qm9Property> Keys = new(StringComparer.Ordinal)
    {
        ["A"] = Qm9Property.A,
        ["B"] = Qm9Property.B,
        ["C"] = Qm9Property.C,
        ["mu"] = Qm9Property.Mu,
        ["alpha"] = Qm9Property.Alpha,
        ["homo"] = Qm9Property.Homo,
        ["epsHOMO"] = Qm9Property.Homo,
        ["lumo"] = Qm9Property.Lumo,
        ["epsLUMO"] = Qm9Property.Lumo,
        ["gap"] = Qm9Property.Gap,
        ["epsgap"] = Qm9Property.Gap,
        ["r2"] = Qm9Property.R2,
        ["<R2>"] = Qm9Property.R2,
        ["zpve"] = Qm9Property.Zpve,
        ["U0"] = Qm9Property.U0,
        ["U"] = Qm9Property.U,
        ["H"] = Qm9Property.H,
        ["G"] = Qm9Property.G,
        ["Cv"] = Qm9Property.Cv,
    };

    /// <summary>Parses every molecule of an extended-XYZ file.</summary>
    /// <param name="path">The file.</param>
    public static IEnumerable<Qm9ExtendedXyzMolecule> ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ReadFileCore(path);
    }

    /// <summary>Parses every molecule of extended-XYZ text.</summary>
    /// <param name="reader">The text, left open.</param>
    /// <param name="source">Names the text in error messages.</param>
    public static IEnumerable<Qm9ExtendedXyzMolecule> Read(TextReader reader, string source)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(source);
        return ReadCore(reader, source);
    }

    private static IEnumerable<Qm9ExtendedXyzMolecule> ReadFileCore(string path)
    {
        using var reader = new StreamReader(path);
        foreach (var molecule in ReadCore(reader, path))
        {
            yield return molecule;
        }
    }

    private static IEnumerable<Qm9ExtendedXyzMolecule> ReadCore(TextReader reader, string source)
    {
        int lineNumber = 0;
        while (reader.ReadLine() is { } countLine)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(countLine))
            {
                continue;
            }

            if (!int.TryParse(countLine.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int atomCount) || atomCount is < 1 or > 1000)
            {
                throw Error(source, lineNumber, $"expected the atom count (a positive integer) on the first line of a molecule, found '{countLine.Trim()}'");
            }

            string comment = reader.ReadLine() ?? throw Error(source, lineNumber + 1, "the text ends where the Properties=… comment line was expected");
            lineNumber++;
            double[] properties = ParseComment(comment, source, lineNumber);

            var atomicNumbers = new int[atomCount];
            var positions = new double[3 * atomCount];
            for (int i = 0; i < atomCount; i++)
            {
                string line = reader.ReadLine() ?? throw Error(source, lineNumber + 1, $"the text ends where atom line {i + 1} of {atomCount} was expected");
                lineNumber++;
                string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length != 4 || !Qm9Elements.TryGetAtomicNumber(fields[0], out atomicNumbers[i]))
                {
                    throw Error(source, lineNumber, $"expected atom line {i + 1} of {atomCount} as 'element x y z' with element H, C, N, O or F, found '{line.Trim()}'");
                }

                for (int k = 0; k < 3; k++)
                {
                    if (!Qm9XyzParser.TryParseNumber(fields[1 + k], out positions[3 * i + k]))
                    {
                        throw Error(source, lineNumber, $"expected coordinate {"xyz"[k]} of atom {i + 1} to be a finite number, found '{fields[1 + k]}'");
                    }
                }
            }

            yield return new Qm9ExtendedXyzMolecule(atomicNumbers, positions, properties);
        }
    }

    private static double[] ParseComment(string comment, string source, int lineNumber)
    {
        var values = new double[Qm9XyzParser.PropertyCount];
        var seen = new bool[values.Length];
        string? columns = null;
        foreach (Match match in KeyValue().Matches(comment))
        {
            string key = match.Groups["key"].Value;
            string value = match.Groups["value"].Value.Trim('"');
            if (key == "Properties")
            {
                columns = value;
            }
            else if (Keys.TryGetValue(key, out var property))
            {
                if (!Qm9XyzParser.TryParseNumber(value, out values[(int)property]))
                {
                    throw Error(source, lineNumber, $"expected property {key} to be a finite number, found '{value}'");
                }

                seen[(int)property] = true;
            }
        }

        if (columns != "species:S:1:pos:R:3")
        {
            throw Error(source, lineNumber, $"expected the per-atom columns Properties=species:S:1:pos:R:3, found {(columns is null ? "no Properties key" : $"'{columns}'")}");
        }

        var missing = Enumerable.Range(0, values.Length).Where(p => !seen[p]).Select(p => ((Qm9Property)p).ToString()).ToList();
        if (missing.Count > 0)
        {
            throw Error(source, lineNumber, $"expected all 15 QM9 properties on the comment line, but {string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} missing");
        }

        return values;
    }

    private static InvalidDataException Error(string source, int line, string message) => new($"{source}, line {line}: {message}.");

    [GeneratedRegex("""(?<key>[^\s=]+)=(?<value>"[^"]*"|\S+)""")]
    private static partial Regex KeyValue();
}
