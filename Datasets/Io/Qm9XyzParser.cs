using System.Globalization;
using LieConv.Datasets.Qm9;

namespace LieConv.Datasets.Io;

/// <summary>
/// Parses the original QM9 text format: blocks of atom count, <c>gdb</c> property line, atom lines, frequency line,
/// SMILES line and InChI line, one block per <c>dsgdb9nsd_NNNNNN.xyz</c> file or several concatenated (blank lines
/// between blocks are allowed).
/// </summary>
internal sealed class Qm9XyzParser
{
    /// <summary>The number of properties on the <c>gdb</c> line.</summary>
    public const int PropertyCount = 15;

    // QM9 molecules have at most 29 atoms; the bound only stops a corrupt count from allocating gigabytes.
    private const int MaxAtoms = 1000;

    private static readonly char[] FieldSeparators = [' ', '\t'];

    private readonly TextReader _reader;
    private readonly string _source;
    private int _lineNumber;

    public Qm9XyzParser(TextReader reader, string source)
    {
        _reader = reader;
        _source = source;
    }

    /// <summary>Parses the next molecule, or returns null at the end of the text (only blank lines left).</summary>
    public Qm9XyzMolecule? Next()
    {
        string? line;
        do
        {
            line = ReadLine();
            if (line is null)
            {
                return null;
            }
        }
        while (string.IsNullOrWhiteSpace(line));

        int countLine = _lineNumber;
        if (!int.TryParse(line.AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int atomCount) || atomCount < 1)
        {
            throw Error(countLine, $"expected the atom count (a positive integer) on the first line of a molecule, found '{Shorten(line)}'");
        }

        if (atomCount > MaxAtoms)
        {
            throw Error(countLine, $"expected an atom count of at most {MaxAtoms} (QM9 molecules have at most 29 atoms), found {atomCount}");
        }

        var (index, properties) = ParsePropertyLine(Require("the property line 'gdb <index>' followed by 15 properties"));

        var atomicNumbers = new int[atomCount];
        var positions = new double[3 * atomCount];
        var charges = new double[atomCount];
        for (int i = 0; i < atomCount; i++)
        {
            string atomLine = Require($"atom line {i + 1} of {atomCount} ('element x y z charge')");
            string[] fields = Split(atomLine);
            if (fields.Length != 5)
            {
                throw Error(_lineNumber, $"expected atom line {i + 1} of {atomCount} to have 5 fields 'element x y z charge', " +
                                         $"found {fields.Length}: '{Shorten(atomLine)}'");
            }

            if (!Qm9Elements.TryGetAtomicNumber(fields[0], out atomicNumbers[i]))
            {
                throw Error(_lineNumber, $"expected an element symbol H, C, N, O or F at the start of atom line {i + 1} of {atomCount}, " +
                                         $"found '{Shorten(fields[0])}'");
            }

            for (int k = 0; k < 3; k++)
            {
                positions[3 * i + k] = ParseNumber(fields[1 + k], $"coordinate {"xyz"[k]} of atom {i + 1}");
            }

            charges[i] = ParseNumber(fields[4], $"the Mulliken charge of atom {i + 1}");
        }

        string frequencyLine = Require("the line of harmonic frequencies");
        string[] frequencyFields = Split(frequencyLine);
        if (frequencyFields.Length == 0)
        {
            throw Error(_lineNumber, "expected at least one harmonic frequency, found an empty line");
        }

        var frequencies = new double[frequencyFields.Length];
        for (int i = 0; i < frequencies.Length; i++)
        {
            frequencies[i] = ParseNumber(frequencyFields[i], $"harmonic frequency {i + 1}");
        }

        var (gdbSmiles, relaxedSmiles) = ParsePair(Require("the SMILES line"), "SMILES", prefix: null);
        var (gdbInchi, relaxedInchi) = ParsePair(Require("the InChI line"), "InChI", prefix: "InChI=");

        return new Qm9XyzMolecule(index, properties, atomicNumbers, positions, charges, frequencies, gdbSmiles, relaxedSmiles, gdbInchi, relaxedInchi);
    }

    /// <summary>Parses a number as the files write it, including Mathematica's <c>1.5*^-6</c> exponents and <c>1.</c>.</summary>
    /// <returns>Whether the text is a finite number.</returns>
    public static bool TryParseNumber(string text, out double value)
    {
        // '*^' is how Mathematica (which wrote QM9) prints an exponent; the original code replaced it by 'e' likewise.
        string normalised = text.Contains("*^", StringComparison.Ordinal) ? text.Replace("*^", "e", StringComparison.Ordinal) : text;
        return double.TryParse(normalised, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
    }

    private (int Index, double[] Properties) ParsePropertyLine(string line)
    {
        string[] fields = Split(line);
        if (fields.Length == 0 || fields[0] != "gdb")
        {
            throw Error(_lineNumber, $"expected the property line to start with 'gdb <index>', found '{Shorten(line)}'");
        }

        if (fields.Length != 2 + PropertyCount)
        {
            throw Error(_lineNumber, $"expected 'gdb <index>' followed by {PropertyCount} properties (A B C mu alpha homo lumo gap r2 zpve U0 U H G Cv), " +
                                     $"found {fields.Length - 2} properties: '{Shorten(line)}'");
        }

        if (!int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index < 1)
        {
            throw Error(_lineNumber, $"expected the GDB index after 'gdb' to be a positive integer, found '{Shorten(fields[1])}'");
        }

        var properties = new double[PropertyCount];
        for (int i = 0; i < PropertyCount; i++)
        {
            properties[i] = ParseNumber(fields[2 + i], $"property {(Qm9Property)i}");
        }

        return (index, properties);
    }

    private (string First, string Second) ParsePair(string line, string what, string? prefix)
    {
        // The two strings are TAB separated; neither SMILES nor InChI can contain white space.
        string[] fields = Split(line);
        if (fields.Length != 2)
        {
            throw Error(_lineNumber, $"expected the {what} line to hold two {what} strings (GDB and relaxed geometry), found {fields.Length} fields: '{Shorten(line)}'");
        }

        if (prefix is not null && !(fields[0].StartsWith(prefix, StringComparison.Ordinal) && fields[1].StartsWith(prefix, StringComparison.Ordinal)))
        {
            throw Error(_lineNumber, $"expected two {what} strings starting with '{prefix}', found '{Shorten(line)}'");
        }

        return (fields[0], fields[1]);
    }

    private double ParseNumber(string field, string what) =>
        TryParseNumber(field, out double value)
            ? value
            : throw Error(_lineNumber, $"expected {what} to be a finite number, found '{Shorten(field)}'");

    private string Require(string what) =>
        ReadLine() ?? throw Error(_lineNumber + 1, $"the text ends where {what} was expected");

    private string? ReadLine()
    {
        string? line = _reader.ReadLine();
        if (line is not null)
        {
            _lineNumber++;
        }

        return line;
    }

    private static string[] Split(string line) => line.Split(FieldSeparators, StringSplitOptions.RemoveEmptyEntries);

    private InvalidDataException Error(int line, string message) => new($"{_source}, line {line}: {message}.");

    private static string Shorten(string text) => text.Length <= 120 ? text : text[..120] + "…";
}
