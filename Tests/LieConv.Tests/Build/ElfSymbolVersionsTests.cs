using System.Runtime.InteropServices;
using LieConv.Build;
using NUnit.Framework;
using TorchSharp;

namespace LieConv.Tests.Build;

/// <summary>
/// Tests of the ELF reader and the libLibTorchSharp.so weak-version patch in build/ElfSymbolVersions.cs,
/// run against private copies of the real TorchSharp library so the NuGet cache is only ever read.
/// </summary>
[TestFixture]
public sealed class ElfSymbolVersionsTests
{
    private const string LibraryName = "libLibTorchSharp.so";

    private string _original = "";
    private string _temp = "";
    private string _copy = "";

    /// <summary>Locates the packaged library and gives each test a fresh copy of it.</summary>
    [SetUp]
    public void SetUp()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("libLibTorchSharp.so and the libstdc++ patch only matter on Linux.");
        }

        _original = FindPackagedLibrary();
        _temp = Directory.CreateTempSubdirectory("lieconv-elf-").FullName;
        _copy = Path.Combine(_temp, LibraryName);
        File.Copy(_original, _copy);
    }

    /// <summary>Removes the copies.</summary>
    [TearDown]
    public void TearDown()
    {
        if (_temp.Length > 0 && Directory.Exists(_temp))
        {
            Directory.Delete(_temp, recursive: true);
        }
    }

    [Test]
    public void ReadsTheKnownGlibcxx3432NeedAndItsOnlySymbol()
    {
        ElfSymbolVersions library = ElfSymbolVersions.Read(_copy);

        Assert.That(library.Machine, Is.EqualTo(ElfSymbolVersions.MachineX86_64));
        ElfVersionNeed need = library.Needs.Single(n => n.VersionName == LibTorchSharpPatcher.KnownMissingVersion);
        Assert.That(need.FileName, Is.EqualTo(LibTorchSharpPatcher.LibStdCxxSoname));
        Assert.That(need.Symbols, Is.EqualTo(new[] { LibTorchSharpPatcher.KnownSymbol }));
        Assert.That(need.IsWeak, Is.False, "the packaged library is expected to be unpatched");
        Assert.That(
            library.Needs.Where(n => n.FileName == LibTorchSharpPatcher.LibStdCxxSoname).Select(n => n.VersionName),
            Does.Contain("GLIBCXX_3.4").And.Contain("CXXABI_1.3"));
        Assert.That(library.Needs.Select(n => n.Index), Is.Unique);
    }

    [Test]
    public void SystemLibStdCxxIsFoundAndDefinesVersions()
    {
        string? system = LibTorchSharpPatcher.FindSystemLibStdCxx(ElfSymbolVersions.MachineX86_64);

        Assert.That(system, Is.Not.Null, "no x86-64 libstdc++.so.6 found in the usual directories or ldconfig -p");
        ISet<string> versions = LibTorchSharpPatcher.ReadProvidedVersions(system!);
        Assert.That(versions, Does.Contain("GLIBCXX_3.4").And.Contain("CXXABI_1.3"));
        Assert.That(versions, Does.Not.Contain(LibTorchSharpPatcher.LibStdCxxSoname), "the VER_FLG_BASE entry is not a version");
    }

    [Test]
    public void ParsesLdconfigOutput()
    {
        const string output = """
            1234 libs found in cache `/etc/ld.so.cache'
            	libstdc++.so.6 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libstdc++.so.6
            	libstdc++.so.6 (libc6) => /usr/lib/i386-linux-gnu/libstdc++.so.6
            	libstdc++fs.so.6 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libstdc++fs.so.6
            """;

        Assert.That(
            LibTorchSharpPatcher.ParseLdconfig(output),
            Is.EqualTo(new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/i386-linux-gnu/libstdc++.so.6" }));
    }

    [Test]
    public void PatchesOnlyTheFlagsOfTheKnownNeedAndIsIdempotent()
    {
        ISet<string> system = SystemWithout(LibTorchSharpPatcher.KnownMissingVersion);
        byte[] before = File.ReadAllBytes(_copy);
        DateTime writtenBefore = File.GetLastWriteTimeUtc(_copy);
        long flagsOffset = ElfSymbolVersions.Read(_copy).Needs.Single(n => n.VersionName == LibTorchSharpPatcher.KnownMissingVersion).FlagsFileOffset;

        LibTorchSharpPatchDecision first = LibTorchSharpPatcher.PatchIfNeeded(_copy, system, "simulated");

        Assert.That(first.Action, Is.EqualTo(LibTorchSharpPatchAction.Patch), first.Message);
        ElfVersionNeed patched = ElfSymbolVersions.Read(_copy).Needs.Single(n => n.VersionName == LibTorchSharpPatcher.KnownMissingVersion);
        Assert.That(patched.Flags, Is.EqualTo(ElfSymbolVersions.VerFlagWeak));
        byte[] after = File.ReadAllBytes(_copy);
        Assert.That(after, Has.Length.EqualTo(before.Length));
        long[] changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).Select(i => (long)i).ToArray();
        Assert.That(changed, Is.Not.Empty);
        Assert.That(changed, Is.All.InRange(flagsOffset, flagsOffset + 1), "only the two bytes of vna_flags may change");
        Assert.That(Directory.GetFiles(_temp), Is.EqualTo(new[] { _copy }), "the temporary copy must not be left behind");
        Assert.That(File.GetLastWriteTimeUtc(_copy), Is.EqualTo(writtenBefore), "MSBuild must keep seeing the copy as unchanged");

        LibTorchSharpPatchDecision second = LibTorchSharpPatcher.PatchIfNeeded(_copy, system, "simulated");

        Assert.That(second.Action, Is.EqualTo(LibTorchSharpPatchAction.NothingToDo), second.Message);
        Assert.That(second.Message, Does.Contain("already marked weak"));
        Assert.That(File.ReadAllBytes(_copy).SequenceEqual(after), Is.True, "a second run must not change the file");
    }

    [Test]
    public void DoesNothingWhenTheSystemHasEveryVersion()
    {
        byte[] before = File.ReadAllBytes(_copy);

        LibTorchSharpPatchDecision decision = LibTorchSharpPatcher.PatchIfNeeded(_copy, SystemWithout(), "simulated");

        Assert.That(decision.Action, Is.EqualTo(LibTorchSharpPatchAction.NothingToDo), decision.Message);
        Assert.That(File.ReadAllBytes(_copy).SequenceEqual(before), Is.True, "nothing to do must not touch the file");
    }

    [TestCase("GLIBCXX_3.4.30")]
    [TestCase("GLIBCXX_3.4.29")]
    [TestCase("CXXABI_1.3.13")]
    public void FailsNamingEveryMissingVersionBeyondTheKnownCase(string alsoMissing)
    {
        byte[] before = File.ReadAllBytes(_copy);
        string[] expectedSymbols = ElfSymbolVersions.Read(_copy).Needs.Single(n => n.VersionName == alsoMissing).Symbols.Take(3).ToArray();
        Assert.That(expectedSymbols, Is.Not.Empty, $"{alsoMissing} should be bound to at least one symbol");

        LibTorchSharpPatchDecision decision = LibTorchSharpPatcher.PatchIfNeeded(
            _copy, SystemWithout(LibTorchSharpPatcher.KnownMissingVersion, alsoMissing), "/simulated/libstdc++.so.6");

        Assert.That(decision.Action, Is.EqualTo(LibTorchSharpPatchAction.Fail));
        Assert.That(
            decision.Message,
            Does.Contain(alsoMissing)
                .And.Contain(LibTorchSharpPatcher.KnownMissingVersion)
                .And.Contain("/simulated/libstdc++.so.6")
                .And.Contain("build/ElfSymbolVersions.cs")
                .And.Contain("Upgrade libstdc++"));
        foreach (string symbol in expectedSymbols)
        {
            Assert.That(decision.Message, Does.Contain(symbol));
        }

        Assert.That(File.ReadAllBytes(_copy).SequenceEqual(before), Is.True, "a failing decision must not touch the file");
    }

    [Test]
    public void FailsWhenOnlyAnotherVersionIsMissingEvenAfterPatching()
    {
        LibTorchSharpPatcher.PatchIfNeeded(_copy, SystemWithout(LibTorchSharpPatcher.KnownMissingVersion), "simulated");

        LibTorchSharpPatchDecision decision = LibTorchSharpPatcher.Decide(
            ElfSymbolVersions.Read(_copy), SystemWithout(LibTorchSharpPatcher.KnownMissingVersion, "GLIBCXX_3.4.30"), "simulated");

        Assert.That(decision.Action, Is.EqualTo(LibTorchSharpPatchAction.Fail));
        Assert.That(decision.Message, Does.Contain("GLIBCXX_3.4.30").And.Not.Contain($"needs {LibTorchSharpPatcher.KnownMissingVersion}"));
    }

    [Test]
    public void PatchingAHardLinkedCopyLeavesTheOtherLinkUntouched()
    {
        // MSBuild may hard-link output files to the NuGet cache; this stands in for that pair.
        string cacheStandIn = Path.Combine(_temp, "cache-" + LibraryName);
        string output = Path.Combine(_temp, "out-" + LibraryName);
        File.Move(_copy, cacheStandIn);
        Assert.That(Link(cacheStandIn, output), Is.Zero, $"link(2) failed with errno {Marshal.GetLastPInvokeError()}");
        byte[] before = File.ReadAllBytes(cacheStandIn);

        LibTorchSharpPatchDecision decision = LibTorchSharpPatcher.PatchIfNeeded(output, SystemWithout(LibTorchSharpPatcher.KnownMissingVersion), "simulated");

        Assert.That(decision.Action, Is.EqualTo(LibTorchSharpPatchAction.Patch), decision.Message);
        Assert.That(File.ReadAllBytes(cacheStandIn).SequenceEqual(before), Is.True, "the other hard link must keep the original bytes");
        Assert.That(ElfSymbolVersions.Read(output).Needs.Single(n => n.VersionName == LibTorchSharpPatcher.KnownMissingVersion).IsWeak, Is.True);
    }

    [Test]
    public void RejectsANonElfFileClearly()
    {
        string text = Path.Combine(_temp, "not-elf.so");
        File.WriteAllText(text, "this is not a shared library");

        var error = Assert.Throws<InvalidDataException>(() => ElfSymbolVersions.Read(text));

        Assert.That(error!.Message, Does.Contain("not an ELF file").And.Contain(text));
        Assert.That(ElfSymbolVersions.TryReadMachine(text), Is.Null);
    }

    [Test]
    public void RejectsATruncatedElfFileClearly()
    {
        string truncated = Path.Combine(_temp, "truncated.so");
        File.WriteAllBytes(truncated, File.ReadAllBytes(_copy).Take(4096).ToArray());

        var error = Assert.Throws<InvalidDataException>(() => ElfSymbolVersions.Read(truncated));

        Assert.That(error!.Message, Does.Contain(truncated));
    }

    [Test]
    public void BuildOutputCopyWasPatchedWhereTheSystemNeedsIt()
    {
        string[] copies = Directory.GetFiles(AppContext.BaseDirectory, LibraryName, SearchOption.AllDirectories);
        Assert.That(copies, Is.Not.Empty, $"no {LibraryName} under {AppContext.BaseDirectory}");
        string? systemPath = LibTorchSharpPatcher.FindSystemLibStdCxx(ElfSymbolVersions.MachineX86_64);
        Assert.That(systemPath, Is.Not.Null);
        ISet<string> system = LibTorchSharpPatcher.ReadProvidedVersions(systemPath!);

        foreach (string copy in copies)
        {
            ElfSymbolVersions library = ElfSymbolVersions.Read(copy);
            LibTorchSharpPatchDecision decision = LibTorchSharpPatcher.Decide(library, system, systemPath!);
            Assert.That(decision.Action, Is.EqualTo(LibTorchSharpPatchAction.NothingToDo), decision.Message);
            if (!system.Contains(LibTorchSharpPatcher.KnownMissingVersion))
            {
                Assert.That(
                    library.Needs.Single(n => n.VersionName == LibTorchSharpPatcher.KnownMissingVersion).IsWeak,
                    Is.True,
                    $"{copy} should have been patched by the build");
            }
        }
    }

    [Test]
    public void TorchSharpLoadsFromTheBuildOutput()
    {
        if (!LibTorchIsReachable())
        {
            Assert.Ignore("No libtorch.so in the output or on LD_LIBRARY_PATH (TorchBackend=external without one); nothing to load.");
        }

        Assert.That(torch.ones(2).sum().item<float>(), Is.EqualTo(2f));
    }

    /// <summary>
    /// The libstdc++ versions the packaged library needs, minus <paramref name="missing"/>: a stand-in for
    /// a system libstdc++ that is exactly old enough to lack those.
    /// </summary>
    private ISet<string> SystemWithout(params string[] missing)
    {
        var versions = new HashSet<string>(
            ElfSymbolVersions.Read(_original).Needs.Where(n => n.FileName == LibTorchSharpPatcher.LibStdCxxSoname).Select(n => n.VersionName),
            StringComparer.Ordinal);
        foreach (string version in missing)
        {
            Assert.That(versions.Remove(version), Is.True, $"the packaged library does not need {version}; pick another to simulate");
        }

        return versions;
    }

    private static string FindPackagedLibrary()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

        // The assembly's informational version is the package version (plus "+commit" on some builds).
        string version = typeof(torch).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>()
            .Select(a => a.InformationalVersion.Split('+')[0])
            .FirstOrDefault() ?? "0.107.0";
        string path = Path.Combine(packages, "torchsharp", version, "runtimes", "linux-x64", "native", LibraryName);
        if (!File.Exists(path))
        {
            Assert.Ignore($"The TorchSharp {version} package's {LibraryName} is not in the NuGet cache at {path}.");
        }

        return path;
    }

    private static bool LibTorchIsReachable()
    {
        if (Directory.EnumerateFiles(AppContext.BaseDirectory, "libtorch.so", SearchOption.AllDirectories).Any())
        {
            return true;
        }

        string[] searchPath = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return searchPath.Any(directory => File.Exists(Path.Combine(directory, "libtorch.so")));
    }

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existing, string created);
}
