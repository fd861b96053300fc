using System.Text;
using ICSharpCode.SharpZipLib.BZip2;
using ICSharpCode.SharpZipLib.Tar;

namespace LieConv.Tests.Datasets.Qm9;

/// <summary>Paths of the shared QM9 files and helpers that build small archives from them in a temp folder.</summary>
internal static class Qm9TestFiles
{
    public const string SampleXyz = "qm9/original/dsgdb9nsd.xyz";
    public const string Uncharacterized = "qm9/original/uncharacterized.txt";
    public const string TestNpz = "qm9/lieconv_npz/test.npz";
    public const string ExtendedXyz = "qm9/extxyz/qm9_reduced_100.xyz";

    /// <summary>The GDB indices of the 10 shared molecules, in file order (README §1).</summary>
    public static readonly int[] SampleIndices = [1, 2, 3, 4, 5, 6, 7, 58, 21490, 6620];

    /// <summary>Methane (gdb 1), verbatim from the shared file.</summary>
    public const string Methane =
        "5\n" +
        "gdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t0.044749\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t\n" +
        "C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689\n" +
        "H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921\n" +
        "H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922\n" +
        "H\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923\n" +
        "H\t-0.5238136345\t 1.4379326443\t 0.9063972942\t 0.133923\n" +
        "1341.307\t1341.3284\t1341.365\t1562.6731\t1562.7453\t3038.3205\t3151.6034\t3151.6788\t3151.7078\n" +
        "C\tC\t\n" +
        "InChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4\n";

    /// <summary>The shared 10-molecule file cut into one text per molecule (the blocks are separated by blank lines).</summary>
    public static IReadOnlyList<string> SampleBlocks(string path)
    {
        var blocks = File.ReadAllText(path).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(b => b.TrimEnd('\n') + "\n").ToList();
        if (blocks.Count != SampleIndices.Length)
        {
            throw new InvalidOperationException($"Expected {SampleIndices.Length} blocks in {path}, found {blocks.Count}.");
        }

        return blocks;
    }

    /// <summary>Writes a bzip2-compressed tar with one member per (name, text), in the given order.</summary>
    public static void WriteTarBz2(string path, IEnumerable<(string Name, string Text)> members)
    {
        using var file = File.Create(path);
        using var bzip2 = new BZip2OutputStream(file);
        using var tar = new TarOutputStream(bzip2, Encoding.UTF8);
        foreach (var (name, text) in members)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            var entry = TarEntry.CreateTarEntry(name);
            entry.Size = bytes.Length;
            tar.PutNextEntry(entry);
            tar.Write(bytes, 0, bytes.Length);
            tar.CloseEntry();
        }
    }

    /// <summary>The official member name of a GDB index, e.g. dsgdb9nsd_000001.xyz.</summary>
    public static string MemberName(int gdbIndex) => $"dsgdb9nsd_{gdbIndex:D6}.xyz";
}
