namespace LieConv.Datasets.Download;

/// <summary>One file to fetch into a <see cref="FileDownloader"/>'s cache folder.</summary>
/// <param name="Source">Where to fetch it from (http or https).</param>
/// <param name="FileName">The name it gets in the cache folder; a plain file name, no folders.</param>
/// <param name="Sha256">The expected SHA-256 as hex (any case), or null when unknown: then the hash of the first
/// download is recorded beside the file and later copies must match it.</param>
public sealed record DownloadItem(Uri Source, string FileName, string? Sha256 = null);

/// <summary>How far a download has got.</summary>
/// <param name="FileName">The cache file name being downloaded.</param>
/// <param name="BytesReceived">Bytes on disk so far, including any resumed part.</param>
/// <param name="TotalBytes">The full size when the server told it, else null.</param>
public readonly record struct DownloadProgress(string FileName, long BytesReceived, long? TotalBytes);

/// <summary>A downloaded (or cached) file whose SHA-256 is not the expected one.</summary>
public sealed class DownloadChecksumException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">Where the file came from.</param>
    /// <param name="path">The file whose hash was checked.</param>
    /// <param name="expected">The expected SHA-256 (lower-case hex).</param>
    /// <param name="actual">The SHA-256 found (lower-case hex).</param>
    /// <param name="expectedFrom">Where the expected value came from, for the message.</param>
    public DownloadChecksumException(Uri source, string path, string expected, string actual, string expectedFrom)
        : base($"{path}: SHA-256 mismatch for the download from {source}: expected {expected} ({expectedFrom}), found {actual}. " +
               "The download is corrupt or the server's file changed; the bad copy was deleted. If the new file is right, " +
               "update the expected hash (or delete the .sha256 file beside it) and download again.")
    {
        SourceUri = source;
        FilePath = path;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>Where the file came from.</summary>
    public Uri SourceUri { get; }

    /// <summary>The file whose hash was checked (deleted since).</summary>
    public string FilePath { get; }

    /// <summary>The expected SHA-256, lower-case hex.</summary>
    public string Expected { get; }

    /// <summary>The SHA-256 found, lower-case hex.</summary>
    public string Actual { get; }
}
