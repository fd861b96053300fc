using System.Text;

namespace LieConv.Datasets.Qm9;

/// <summary>The five elements of QM9 (H, C, N, O, F) and their atomic numbers.</summary>
public static class Qm9Elements
{
    /// <summary>The atomic numbers that occur in QM9, ascending: 1, 6, 7, 8, 9. LieConv's species list.</summary>
    public static IReadOnlyList<int> AtomicNumbers { get; } = [1, 6, 7, 8, 9];

    /// <summary>The element symbols in <see cref="AtomicNumbers"/> order.</summary>
    public static IReadOnlyList<string> Symbols { get; } = ["H", "C", "N", "O", "F"];

    /// <summary>The atomic number of a QM9 element symbol (case-sensitive, as the files write them).</summary>
    /// <param name="symbol">H, C, N, O or F.</param>
    /// <param name="atomicNumber">Z, or 0 when the symbol is not a QM9 element.</param>
    /// <returns>Whether the symbol is one of the five.</returns>
    public static bool TryGetAtomicNumber(ReadOnlySpan<char> symbol, out int atomicNumber)
    {
        atomicNumber = symbol switch
        {
            "H" => 1,
            "C" => 6,
            "N" => 7,
            "O" => 8,
            "F" => 9,
            _ => 0,
        };
        return atomicNumber != 0;
    }

    /// <summary>The symbol of a QM9 atomic number.</summary>
    /// <param name="atomicNumber">1, 6, 7, 8 or 9.</param>
    /// <exception cref="ArgumentOutOfRangeException">Z is not one of the five.</exception>
    public static string Symbol(int atomicNumber) => atomicNumber switch
    {
        1 => "H",
        6 => "C",
        7 => "N",
        8 => "O",
        9 => "F",
        _ => throw new ArgumentOutOfRangeException(nameof(atomicNumber), atomicNumber, "QM9 holds only H, C, N, O and F (Z = 1, 6, 7, 8, 9)."),
    };

    /// <summary>Whether Z is one of the five QM9 elements.</summary>
    /// <param name="atomicNumber">The atomic number.</param>
    public static bool IsQm9Element(int atomicNumber) => atomicNumber is 1 or 6 or 7 or 8 or 9;

    /// <summary>The molecular formula in Hill order (C, H, then the rest alphabetically; alphabetical throughout
    /// without carbon), e.g. <c>CH4</c>, <c>C2H3N3</c>, <c>H3N</c>.</summary>
    /// <param name="atomicNumbers">Z of each atom.</param>
    public static string Formula(IEnumerable<int> atomicNumbers)
    {
        ArgumentNullException.ThrowIfNull(atomicNumbers);
        var counts = new int[10];
        foreach (int z in atomicNumbers)
        {
            counts[IsQm9Element(z) ? z : throw new ArgumentOutOfRangeException(nameof(atomicNumbers), z, "not a QM9 element")]++;
        }

        var builder = new StringBuilder();
        int[] order = counts[6] > 0 ? [6, 1, 9, 7, 8] : [9, 1, 7, 8];
        foreach (int z in order)
        {
            if (counts[z] > 0)
            {
                builder.Append(Symbol(z));
                if (counts[z] > 1)
                {
                    builder.Append(counts[z]);
                }
            }
        }

        return builder.ToString();
    }
}
