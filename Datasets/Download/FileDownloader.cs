using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace LieConv.Datasets.Download;

/// <summary>
/// Fetches dataset files into a cache folder: resumable (HTTP Range into <c>&lt;name&gt;.partial</c>, renamed into
/// place only when complete and verified), checked against a SHA-256 that is either configured or recorded on first
/// download in a <c>&lt;name&gt;.sha256</c> sidecar (<c>sha256sum</c> format), and a no-op when a verified copy is
/// already cached.
/// </summary>
/// <remarks>
/// <para>Transfers interrupted by network errors, time-outs or 5xx answers are resumed up to <see cref="MaxAttempts"/>
/// times within one call; a <c>.partial</c> file left by an earlier process is resumed too. Servers that ignore Range
/// are handled by starting over.</para>
/// <para>Thread safety: one download per cache file at a time; the class does not lock files across processes.</para>
/// </remarks>
public sealed class FileDownloader : IDisposable
{
    /// <summary>The suffix of an incomplete download.</summary>
    public const string PartialSuffix = ".partial";

    /// <summary>The suffix of the file recording a download's SHA-256.</summary>
    public const string HashSuffix = ".sha256";

    private const int BufferBytes = 1 << 16;

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>Creates a downloader.</summary>
    /// <param name="cacheDirectory">The folder that holds the downloaded files; created when needed.</param>
    /// <param name="httpClient">The client to use (e.g. one with a proxy, or a test handler); null creates one that this
    /// downloader disposes.</param>
    public FileDownloader(string cacheDirectory, HttpClient? httpClient = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheDirectory);
        CacheDirectory = Path.GetFullPath(cacheDirectory);
        _ownsHttp = httpClient is null;
        _http = httpClient ?? new HttpClient();
    }

    /// <summary>The cache folder (full path).</summary>
    public string CacheDirectory { get; }

    /// <summary>How many transfer attempts one <see cref="DownloadAsync"/> makes before giving up; at least 1. Default 3.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>The pause before the second attempt; later attempts wait proportionally longer. Default 2 s.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Receives progress reports while bytes arrive; null for none.</summary>
    public IProgress<DownloadProgress>? Progress { get; init; }

    /// <summary>Where <paramref name="item"/> is (or will be) cached.</summary>
    /// <param name="item">The file.</param>
    /// <exception cref="ArgumentException">The file name is not a plain file name.</exception>
    public string PathOf(DownloadItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (string.IsNullOrWhiteSpace(item.FileName) || item.FileName != Path.GetFileName(item.FileName) || item.FileName is "." or "..")
        {
            throw new ArgumentException($"'{item.FileName}' is not a plain file name; a cache file name must not contain folders.", nameof(item));
        }

        return Path.Combine(CacheDirectory, item.FileName);
    }

    /// <summary>
    /// Returns the cached copy of <paramref name="item"/>, downloading it first when it is missing or does not match the
    /// expected hash.
    /// </summary>
    /// <param name="item">The file.</param>
    /// <param name="cancellationToken">Stops the transfer; the <c>.partial</c> file stays for a later resume.</param>
    /// <returns>The full path of the verified file.</returns>
    /// <exception cref="DownloadChecksumException">The downloaded file does not have the expected SHA-256 (it is deleted).</exception>
    /// <exception cref="HttpRequestException">The server refused the request (e.g. 404), or every attempt failed.</exception>
    /// <exception cref="IOException">Every attempt was interrupted.</exception>
    public async Task<string> DownloadAsync(DownloadItem item, CancellationToken cancellationToken = default)
    {
        string target = PathOf(item);
        if (item.Source.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"Only http and https downloads are supported, not '{item.Source}'.", nameof(item));
        }

        string hashFile = target + HashSuffix;
        string? configured = item.Sha256 is null ? null : NormaliseHash(item.Sha256, $"the expected SHA-256 of {item.FileName}");
        string? recorded = ReadRecordedHash(hashFile);
        string? expected = configured ?? recorded;
        string expectedFrom = configured is not null ? "configured" : $"recorded in {hashFile} at the first download";
        Directory.CreateDirectory(CacheDirectory);

        if (File.Exists(target))
        {
            string cached = await HashFileAsync(target, cancellationToken).ConfigureAwait(false);
            if (expected is null || cached == expected)
            {
                if (recorded != cached)
                {
                    WriteRecordedHash(hashFile, cached, item.FileName);
                }

                return target;
            }

            // A damaged or stale cached copy must not be handed out; fetching it again is what the caller wants.
            File.Delete(target);
        }

        string partial = target + PartialSuffix;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await TransferAsync(item, partial, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (attempt < Math.Max(1, MaxAttempts) && IsTransient(e, cancellationToken))
            {
                await Task.Delay(RetryDelay * attempt, cancellationToken).ConfigureAwait(false);
            }
        }

        string actual = await HashFileAsync(partial, cancellationToken).ConfigureAwait(false);
        if (expected is not null && actual != expected)
        {
            // A complete file with the wrong content cannot be repaired by resuming it.
            File.Delete(partial);
            throw new DownloadChecksumException(item.Source, partial, expected, actual, expectedFrom);
        }

        // Same folder, so the rename is atomic: readers see either no file or the whole verified one.
        File.Move(partial, target, overwrite: true);
        if (recorded != actual)
        {
            WriteRecordedHash(hashFile, actual, item.FileName);
        }

        return target;
    }

    /// <summary>Disposes the HTTP client if this downloader created it.</summary>
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    /// <summary>The SHA-256 of a file as lower-case hex.</summary>
    /// <param name="path">The file.</param>
    /// <param name="cancellationToken">Stops hashing.</param>
    public static async Task<string> HashFileAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferBytes, FileOptions.Asynchronous | FileOptions.SequentialScan);
        byte[] hash = await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash);
    }

    private async Task TransferAsync(DownloadItem item, string partial, CancellationToken cancellationToken)
    {
        // Two rounds at most: a resume the server answers with 416 for a stale partial file restarts from zero once.
        for (int round = 0; ; round++)
        {
            long existing = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            using var request = new HttpRequestMessage(HttpMethod.Get, item.Source);
            if (existing > 0)
            {
                request.Headers.Range = new RangeHeaderValue(existing, null);
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && existing > 0)
            {
                if (response.Content.Headers.ContentRange?.Length == existing)
                {
                    return; // The partial file was already complete when the earlier attempt stopped.
                }

                if (round == 0)
                {
                    File.Delete(partial);
                    continue;
                }
            }

            response.EnsureSuccessStatusCode();
            bool append = existing > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            if (append && response.Content.Headers.ContentRange?.From != existing)
            {
                File.Delete(partial);
                throw new IOException($"{item.Source}: asked to resume at byte {existing}, but the server sent range " +
                                      $"'{response.Content.Headers.ContentRange}'; starting over.");
            }

            long? total = append ? response.Content.Headers.ContentRange?.Length : response.Content.Headers.ContentLength;
            long received = append ? existing : 0;
            await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
            await using (var file = new FileStream(partial, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, BufferBytes, useAsync: true))
            {
                var buffer = new byte[BufferBytes];
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    received += read;
                    Progress?.Report(new DownloadProgress(item.FileName, received, total));
                }
            }

            if (total is { } expectedLength && received != expectedLength)
            {
                // Kept as .partial: the next attempt resumes from here.
                throw new IOException($"{item.Source}: the connection closed after {received} of {expectedLength} bytes.");
            }

            return;
        }
    }

    private static bool IsTransient(Exception e, CancellationToken cancellationToken) => e switch
    {
        OperationCanceledException => !cancellationToken.IsCancellationRequested, // an HttpClient time-out, not the caller
        HttpRequestException { StatusCode: null } => true,
        HttpRequestException { StatusCode: { } status } => (int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests,
        IOException => true,
        _ => false,
    };

    private static string? ReadRecordedHash(string hashFile)
    {
        if (!File.Exists(hashFile))
        {
            return null;
        }

        string text = File.ReadAllText(hashFile).Trim();
        string first = text.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return NormaliseHash(first, hashFile);
    }

    private static void WriteRecordedHash(string hashFile, string hash, string fileName)
    {
        // Written beside the file and renamed, so a crash never leaves a half-written hash that would reject a good file.
        string temporary = hashFile + ".tmp";
        File.WriteAllText(temporary, $"{hash}  {fileName}\n");
        File.Move(temporary, hashFile, overwrite: true);
    }

    private static string NormaliseHash(string hash, string what)
    {
        string trimmed = hash.Trim();
        if (trimmed.Length != 64 || !trimmed.All(char.IsAsciiHexDigit))
        {
            throw new InvalidDataException($"{what}: expected a SHA-256 of 64 hex digits, found '{trimmed}'.");
        }

        return trimmed.ToLower(CultureInfo.InvariantCulture);
    }
}
