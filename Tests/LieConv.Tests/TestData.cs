using NUnit.Framework;

namespace LieConv.Tests;

/// <summary>
/// Finds the real datasets that live outside the repository (in a <c>shared/data</c> folder next to it, e.g.
/// /work/shared/data beside /work/main), so tests can use them where present and are ignored, not failed, elsewhere.
/// </summary>
public static class TestData
{
    /// <summary>Names a data folder to use instead of searching, for machines that keep the data elsewhere.</summary>
    public const string EnvironmentVariable = "LIECONV_SHARED_DATA";

    private static readonly Lazy<string?> Located = new(Locate);

    /// <summary>
    /// The full path of the shared data folder, or null if there is none: <see cref="EnvironmentVariable"/> if set,
    /// else the first <c>shared/data</c> or <c>../shared/data</c> found walking up from the test binaries.
    /// </summary>
    public static string? SharedDataDirectory => Located.Value;

    /// <summary>
    /// The full path of <paramref name="relative"/> inside the shared data folder, e.g.
    /// <c>qm9/lieconv_npz/test.npz</c>; ignores the calling test (<see cref="Assert.Ignore(string)"/>) when it is absent.
    /// </summary>
    /// <param name="relative">A path relative to the <c>shared/data</c> folder, with '/' separators.</param>
    public static string RequireSharedFile(string relative)
    {
        ArgumentNullException.ThrowIfNull(relative);
        string? root = SharedDataDirectory;
        if (root is null)
        {
            Assert.Ignore($"Test data 'shared/data/{relative}' is not available: no shared/data folder was found above " +
                          $"{AppContext.BaseDirectory} (expected beside the repository, e.g. /work/shared/data next to /work/main), " +
                          $"and {EnvironmentVariable} is not set.");
            throw new InvalidOperationException("unreachable: Assert.Ignore throws");
        }

        string path = Path.GetFullPath(Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar)));
        if (!File.Exists(path))
        {
            Assert.Ignore($"Test data file '{relative}' is not in the shared data folder {root} (looked for {path}).");
        }

        return path;
    }

    private static string? Locate()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            // An explicit setting that points nowhere is a configuration mistake; searching on would hide it.
            return Directory.Exists(fromEnvironment) ? Path.GetFullPath(fromEnvironment) : null;
        }

        var starts = new[] { TestContext.CurrentContext.TestDirectory, AppContext.BaseDirectory }
            .Where(s => !string.IsNullOrEmpty(s)).Distinct();
        foreach (string start in starts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                foreach (string candidate in new[] { Path.Combine(dir.FullName, "shared", "data"), Path.Combine(dir.FullName, "..", "shared", "data") })
                {
                    if (Directory.Exists(candidate))
                    {
                        return Path.GetFullPath(candidate);
                    }
                }
            }
        }

        return null;
    }
}
