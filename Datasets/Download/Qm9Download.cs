using LieConv.Datasets.Qm9;

namespace LieConv.Datasets.Download;

/// <summary>Paths of the three official QM9 files in a cache folder.</summary>
/// <param name="Archive">The molecules, <c>dsgdb9nsd.xyz.tar.bz2</c>.</param>
/// <param name="Exclusions">The uncharacterized molecules, <c>uncharacterized.txt</c>.</param>
/// <param name="AtomReferences">The atom reference energies, <c>atomref.txt</c>.</param>
public sealed record Qm9Files(string Archive, string Exclusions, string AtomReferences)
{
    /// <summary>Cormorant's preparation of these files (<see cref="Qm9Dataset.FromOfficialFiles"/>), atom references read
    /// from the downloaded <c>atomref.txt</c>.</summary>
    public Qm9Dataset OpenDataset() => Qm9Dataset.FromOfficialFiles(Archive, Exclusions, AtomReferences);
}

/// <summary>The official QM9 files on figshare (collection doi:10.6084/m9.figshare.c.978904), as Cormorant downloads them.</summary>
public static class Qm9Download
{
    /// <summary>The molecules: 133,885 <c>.xyz</c> files in a bzip2-compressed tar (about 86 MB).</summary>
    public static Uri ArchiveUri { get; } = new("https://springernature.figshare.com/ndownloader/files/3195389");

    /// <summary>The list of 3,054 uncharacterized molecules.</summary>
    public static Uri ExclusionsUri { get; } = new("https://springernature.figshare.com/ndownloader/files/3195404");

    /// <summary>The atom reference energies.</summary>
    public static Uri AtomReferencesUri { get; } = new("https://springernature.figshare.com/ndownloader/files/3195395");

    /// <summary>The cache name of the molecules archive.</summary>
    public const string ArchiveFileName = "dsgdb9nsd.xyz.tar.bz2";

    /// <summary>The cache name of the exclusion list.</summary>
    public const string ExclusionsFileName = "uncharacterized.txt";

    /// <summary>The cache name of the atom references.</summary>
    public const string AtomReferencesFileName = "atomref.txt";

    /// <summary>A per-user cache folder for QM9: <c>&lt;local application data&gt;/LieConv/datasets/qm9</c>.</summary>
    public static string DefaultCacheDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify),
            "LieConv", "datasets", "qm9");

    /// <summary>The three files as download items.</summary>
    /// <param name="archiveSha256">Expected SHA-256 of the archive, or null to record it on first download.</param>
    /// <param name="exclusionsSha256">Expected SHA-256 of <c>uncharacterized.txt</c>, or null to record it.</param>
    /// <param name="atomReferencesSha256">Expected SHA-256 of <c>atomref.txt</c>, or null to record it.</param>
    public static IReadOnlyList<DownloadItem> Items(string? archiveSha256 = null, string? exclusionsSha256 = null, string? atomReferencesSha256 = null) =>
    [
        new(ArchiveUri, ArchiveFileName, archiveSha256),
        new(ExclusionsUri, ExclusionsFileName, exclusionsSha256),
        new(AtomReferencesUri, AtomReferencesFileName, atomReferencesSha256),
    ];

    /// <summary>Downloads (or finds cached) the three official files.</summary>
    /// <param name="downloader">The downloader, which fixes the cache folder.</param>
    /// <param name="archiveSha256">Expected SHA-256 of the archive, or null to record it on first download.</param>
    /// <param name="exclusionsSha256">Expected SHA-256 of <c>uncharacterized.txt</c>, or null to record it.</param>
    /// <param name="atomReferencesSha256">Expected SHA-256 of <c>atomref.txt</c>, or null to record it.</param>
    /// <param name="cancellationToken">Stops the transfers; partial files stay for a resume.</param>
    public static async Task<Qm9Files> DownloadAsync(FileDownloader downloader, string? archiveSha256 = null, string? exclusionsSha256 = null,
        string? atomReferencesSha256 = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(downloader);
        var items = Items(archiveSha256, exclusionsSha256, atomReferencesSha256);
        var paths = new string[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            paths[i] = await downloader.DownloadAsync(items[i], cancellationToken).ConfigureAwait(false);
        }

        return new Qm9Files(paths[0], paths[1], paths[2]);
    }
}
