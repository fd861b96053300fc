using System.Text;
using ICSharpCode.SharpZipLib.BZip2;
using ICSharpCode.SharpZipLib.Tar;

namespace LieConv.Datasets.Io;

/// <summary>
/// Reads molecules in the original QM9 <c>.xyz</c> format from text, files, a folder of files or the official
/// <c>dsgdb9nsd.xyz.tar.bz2</c> archive.
/// </summary>
/// <remarks>
/// <para>Every method is lazy: nothing is opened until enumeration starts, molecules are parsed one at a time, and each
/// new enumeration reads the source again from the start, so the result can be handed to
/// <c>MLContext.Data.LoadFromEnumerable</c> without holding 130k molecules in memory.</para>
/// <para>Errors are <see cref="InvalidDataException"/>s whose message starts with the file (and archive member) and line
/// number and says what was expected there.</para>
/// </remarks>
public static class Qm9XyzReader
{
    /// <summary>Parses every molecule in <paramref name="reader"/>: one block, or several concatenated.</summary>
    /// <param name="reader">The text; read from its current position, left open.</param>
    /// <param name="source">Names the text in error messages, e.g. its path.</param>
    public static IEnumerable<Qm9XyzMolecule> Read(TextReader reader, string source)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(source);
        return ReadCore(reader, source);
    }

    /// <summary>Parses every molecule in one file: a single <c>dsgdb9nsd_NNNNNN.xyz</c> or several blocks concatenated.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="InvalidDataException">(On enumeration.) The file is malformed or holds no molecule.</exception>
    public static IEnumerable<Qm9XyzMolecule> ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ReadFileCore(path);
    }

    /// <summary>Parses every <paramref name="pattern"/> file of a folder (not its subfolders) in ordinal order of the file
    /// names, which for the official <c>dsgdb9nsd_NNNNNN.xyz</c> names is GDB index order, as in the archive.</summary>
    /// <param name="directory">The folder, e.g. the official archive unpacked.</param>
    /// <param name="pattern">The file name pattern.</param>
    /// <exception cref="DirectoryNotFoundException">(On enumeration.) The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">(On enumeration.) A file is malformed or holds no molecule.</exception>
    public static IEnumerable<Qm9XyzMolecule> ReadDirectory(string directory, string pattern = "*.xyz")
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(pattern);
        return ReadDirectoryCore(directory, pattern);
    }

    /// <summary>
    /// Streams the official <c>dsgdb9nsd.xyz.tar.bz2</c> (or any bzip2-compressed tar of QM9 <c>.xyz</c> files) without
    /// unpacking it: one molecule per regular member, in the order the members appear in the archive, which is the
    /// order Cormorant's split indices refer to.
    /// </summary>
    /// <param name="path">The <c>.tar.bz2</c> file.</param>
    /// <exception cref="InvalidDataException">(On enumeration.) The file is not a bzip2-compressed tar, or a member is
    /// malformed or does not hold exactly one molecule.</exception>
    public static IEnumerable<Qm9XyzMolecule> ReadTarBz2(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ReadTarBz2Core(path);
    }

    /// <summary>Streams an uncompressed tar of QM9 <c>.xyz</c> files, one molecule per regular member, in archive order.</summary>
    /// <param name="tar">The tar data, read from its current position and left open. Enumerate the result once only,
    /// since the stream cannot be rewound.</param>
    /// <param name="source">Names the archive in error messages, e.g. its path.</param>
    public static IEnumerable<Qm9XyzMolecule> ReadTar(Stream tar, string source)
    {
        ArgumentNullException.ThrowIfNull(tar);
        ArgumentNullException.ThrowIfNull(source);
        return ReadTarCore(tar, source);
    }

    private static IEnumerable<Qm9XyzMolecule> ReadCore(TextReader reader, string source)
    {
        var parser = new Qm9XyzParser(reader, source);
        while (parser.Next() is { } molecule)
        {
            yield return molecule;
        }
    }

    private static IEnumerable<Qm9XyzMolecule> ReadFileCore(string path)
    {
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        bool any = false;
        foreach (var molecule in ReadCore(reader, path))
        {
            any = true;
            yield return molecule;
        }

        if (!any)
        {
            throw new InvalidDataException($"{path}: expected at least one QM9 molecule, but the file is empty or blank.");
        }
    }

    private static IEnumerable<Qm9XyzMolecule> ReadDirectoryCore(string directory, string pattern)
    {
        var files = Directory.GetFiles(directory, pattern, SearchOption.TopDirectoryOnly);
        // Ordinal, not culture, order: it is what the zero-padded official names need and it is the same on every machine.
        Array.Sort(files, StringComparer.Ordinal);
        foreach (string file in files)
        {
            foreach (var molecule in ReadFileCore(file))
            {
                yield return molecule;
            }
        }
    }

    private static IEnumerable<Qm9XyzMolecule> ReadTarBz2Core(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        Stream bzip2;
        try
        {
            bzip2 = new BZip2InputStream(file) { IsStreamOwner = false };
        }
        catch (Exception e) when (e is BZip2Exception or EndOfStreamException)
        {
            throw new InvalidDataException($"{path}: expected a bzip2-compressed tar archive (dsgdb9nsd.xyz.tar.bz2), but it has no valid bzip2 header: {e.Message}", e);
        }

        using (bzip2)
        {
            foreach (var molecule in ReadTarCore(bzip2, path))
            {
                yield return molecule;
            }
        }
    }

    private static IEnumerable<Qm9XyzMolecule> ReadTarCore(Stream stream, string source)
    {
        using var tar = new TarInputStream(stream, Encoding.UTF8) { IsStreamOwner = false };
        while (NextEntry(tar, source) is { } entry)
        {
            // Cormorant enumerates tarfile members; the official archive holds only regular .xyz files.
            if (entry.IsDirectory || entry.TarHeader.TypeFlag is not (TarHeader.LF_NORMAL or TarHeader.LF_OLDNORM))
            {
                continue;
            }

            string member = $"{source}, member '{entry.Name}'";
            Qm9XyzMolecule molecule;
            try
            {
                using var reader = new StreamReader(tar, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 4096, leaveOpen: true);
                var parser = new Qm9XyzParser(reader, member);
                molecule = parser.Next() ?? throw new InvalidDataException($"{member}: expected one QM9 molecule, but the member is empty or blank.");
                if (parser.Next() is not null)
                {
                    // A member's position is its split index, so two molecules in one member would shift every later one.
                    throw new InvalidDataException($"{member}: expected exactly one QM9 molecule per archive member, found more.");
                }
            }
            catch (Exception e) when (e is TarException or BZip2Exception or EndOfStreamException)
            {
                throw new InvalidDataException($"{member}: the archive is corrupt or truncated: {e.Message}", e);
            }

            yield return molecule;
        }
    }

    private static TarEntry? NextEntry(TarInputStream tar, string source)
    {
        try
        {
            return tar.GetNextEntry();
        }
        catch (Exception e) when (e is TarException or BZip2Exception or EndOfStreamException)
        {
            throw new InvalidDataException($"{source}: expected a tar archive of QM9 .xyz files, but it is corrupt or truncated: {e.Message}", e);
        }
    }
}
