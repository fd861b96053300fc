using System.Globalization;

namespace LieConv.Datasets.Qm9;

/// <summary>
/// The molecules left out of QM9 training and evaluation: the 3,054 "uncharacterized" molecules of the official
/// <c>uncharacterized.txt</c>, whose relaxed geometry no longer matches their GDB-17 graph. Cormorant, LieConv and EDM
/// drop them, which leaves 130,831 of the 133,885 molecules.
/// </summary>
public sealed class Qm9Exclusions
{
    /// <summary>The number of rows of the official <c>uncharacterized.txt</c>.</summary>
    public const int OfficialCount = 3054;

    /// <summary>The number of molecules in QM9.</summary>
    public const int OfficialMoleculeCount = 133_885;

    private readonly HashSet<int> _indices;

    private Qm9Exclusions(int[] sortedIndices)
    {
        Indices = sortedIndices;
        _indices = [.. sortedIndices];
    }

    /// <summary>No exclusions.</summary>
    public static Qm9Exclusions None { get; } = new([]);

    /// <summary>The excluded 1-based GDB indices, ascending.</summary>
    public IReadOnlyList<int> Indices { get; }

    /// <summary>The number of excluded molecules.</summary>
    public int Count => Indices.Count;

    /// <summary>Whether the molecule with this 1-based GDB index is excluded.</summary>
    /// <param name="gdbIndex">The index from the molecule's <c>gdb</c> line.</param>
    public bool Contains(int gdbIndex) => _indices.Contains(gdbIndex);

    /// <summary>Exclusions from a list of 1-based GDB indices (order does not matter).</summary>
    /// <param name="gdbIndices">The indices; each positive and listed once.</param>
    /// <exception cref="ArgumentException">An index is not positive or is listed twice.</exception>
    public static Qm9Exclusions FromIndices(IEnumerable<int> gdbIndices)
    {
        ArgumentNullException.ThrowIfNull(gdbIndices);
        int[] sorted = gdbIndices.ToArray();
        Array.Sort(sorted);
        for (int i = 0; i < sorted.Length; i++)
        {
            if (sorted[i] < 1 || (i > 0 && sorted[i] == sorted[i - 1]))
            {
                throw new ArgumentException($"GDB index {sorted[i]} is {(sorted[i] < 1 ? "not positive" : "listed twice")}; expected distinct 1-based indices.", nameof(gdbIndices));
            }
        }

        return new Qm9Exclusions(sorted);
    }

    /// <summary>
    /// Reads <c>uncharacterized.txt</c>: every line whose first white-space separated token is an integer is a row, and
    /// that integer is a 1-based GDB index; header and rule lines are skipped (Cormorant's rule).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="expectedCount">How many rows the file must hold: <see cref="OfficialCount"/> (the default, Cormorant's
    /// own check) for the official list, or null to accept any number, e.g. for a list of your own.</param>
    /// <exception cref="InvalidDataException">An index is not positive or is listed twice, or the count differs from
    /// <paramref name="expectedCount"/> (a truncated or wrong file would silently change every split).</exception>
    public static Qm9Exclusions ReadFile(string path, int? expectedCount = OfficialCount)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var reader = new StreamReader(path);
        return Read(reader, path, expectedCount);
    }

    /// <summary>Reads <c>uncharacterized.txt</c> text; see <see cref="ReadFile"/>.</summary>
    /// <param name="reader">The text, left open.</param>
    /// <param name="source">Names the text in error messages, e.g. its path.</param>
    /// <param name="expectedCount">The required number of rows, or null for any.</param>
    /// <exception cref="InvalidDataException">An index is not positive or is listed twice, or the count is wrong.</exception>
    public static Qm9Exclusions Read(TextReader reader, string source, int? expectedCount = OfficialCount)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(source);
        var lineOf = new Dictionary<int, int>();
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            var fields = line.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || !long.TryParse(fields[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long index))
            {
                continue;
            }

            if (index < 1 || index > int.MaxValue)
            {
                throw new InvalidDataException($"{source}, line {lineNumber}: expected a 1-based GDB index, found {index}.");
            }

            if (!lineOf.TryAdd((int)index, lineNumber))
            {
                throw new InvalidDataException($"{source}, line {lineNumber}: GDB index {index} is listed again (first on line {lineOf[(int)index]}); expected each once.");
            }
        }

        if (expectedCount is { } expected && lineOf.Count != expected)
        {
            throw new InvalidDataException(
                $"{source}: expected exactly {expected} excluded molecules (rows whose first token is an integer), found {lineOf.Count}. " +
                (expected == OfficialCount ? "The official uncharacterized.txt has 3054; a truncated or different file would change every split. " : "") +
                "Pass expectedCount: null to accept another list.");
        }

        var sorted = lineOf.Keys.ToArray();
        Array.Sort(sorted);
        return new Qm9Exclusions(sorted);
    }
}
