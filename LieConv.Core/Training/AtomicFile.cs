namespace LieConv.Training;

/// <summary>
/// Replaces a file all at once: readers see either the old content or the complete new one, never a partial file.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="path"/> through <paramref name="write"/>: the content goes to a hidden temporary file in the
    /// same folder (same volume, so the final rename cannot become a copy), is flushed to disk, and then renamed over the
    /// target. If <paramref name="write"/> throws, the temporary file is deleted and the old file stays as it was.
    /// </summary>
    /// <remarks>
    /// A process killed mid-write can leave a temporary file behind; its name starts with '.' and ends in '.tmp', it
    /// is never read, and the next write to the same path removes it.
    /// </remarks>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no folder.", nameof(path));
        string name = Path.GetFileName(full);
        Directory.CreateDirectory(folder);
        RemoveStaleTemporaries(folder, name);

        string temporary = Path.Combine(folder, $".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void RemoveStaleTemporaries(string folder, string name)
    {
        foreach (var stale in Directory.EnumerateFiles(folder, $".{name}.*.tmp")) TryDelete(stale);
    }

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
            // A leftover temporary file is harmless (never read, removed by the next write); the original error matters more.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
