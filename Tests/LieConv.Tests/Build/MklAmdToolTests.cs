using System.Diagnostics;
using System.Runtime.InteropServices;
using NUnit.Framework;

namespace LieConv.Tests.Build;

/// <summary>
/// tools/mkl-amd: its build script makes a library that answers MKL's vendor test, the libtorch this project ships
/// still exports that function for it to stand in for (a TorchSharp upgrade that links MKL differently fails here
/// rather than leaving the tool silently without effect), and TorchRuntime tells whether MKL takes generic kernels.
/// </summary>
[TestFixture]
public sealed class MklAmdToolTests
{
    private const string VendorTest = "mkl_serv_intel_cpu_true";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int IntAnswer();

    /// <summary>build.sh compiles the library, prints its path, and the function there answers 1.</summary>
    [Test]
    public void BuildScript_MakesALibraryWhoseVendorTestAnswersOne()
    {
        var script = Path.Combine(RepositoryRoot(), "tools", "mkl-amd", "build.sh");
        if (!OperatingSystem.IsLinux()) Assert.Ignore("tools/mkl-amd is for Linux (LD_PRELOAD).");
        if (!HasCompiler()) Assert.Ignore("No C compiler (cc or gcc) on PATH: tools/mkl-amd/build.sh cannot run here.");

        var start = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd().Trim(), errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, errors);
        Assert.That(File.Exists(output), Is.True, $"build.sh printed '{output}', which is not a file");

        var library = NativeLibrary.Load(output);
        try
        {
            var answer = Marshal.GetDelegateForFunctionPointer<IntAnswer>(NativeLibrary.GetExport(library, VendorTest));
            Assert.That(answer(), Is.EqualTo(1));
        }
        finally
        {
            NativeLibrary.Free(library);
        }
    }

    /// <summary>The bundled libtorch_cpu.so exports the function the tool stands in for.</summary>
    [Test]
    public void BundledLibtorch_ExportsMklsVendorTest()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("tools/mkl-amd is for Linux (LD_PRELOAD).");
        var libtorch = Directory.EnumerateFiles(TestContext.CurrentContext.TestDirectory, "libtorch_cpu.so", SearchOption.AllDirectories).FirstOrDefault();
        if (libtorch is null) Assert.Ignore("No libtorch_cpu.so beside the tests (an external libtorch build).");

        var library = NativeLibrary.Load(libtorch!);
        try
        {
            Assert.That(NativeLibrary.TryGetExport(library, VendorTest, out _), Is.True,
                $"{libtorch} no longer exports {VendorTest}; tools/mkl-amd would have no effect with it");
        }
        finally
        {
            NativeLibrary.Free(library);
        }
    }

    /// <summary>
    /// TorchRuntime.MklTakesGenericKernels: in this process (nothing preloaded, unless the tests run under the tool's
    /// library) MKL takes its generic kernels exactly when the processor is not Intel's.
    /// </summary>
    [Test]
    public void MklTakesGenericKernels_ExactlyOnProcessorsNotIntels_UnlessTheLibraryIsPreloaded()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/proc/cpuinfo")) Assert.Ignore("Reads /proc/cpuinfo (Linux).");
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64) Assert.Ignore("MKL is in libtorch's x64 builds only.");
        var vendor = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("vendor_id", StringComparison.Ordinal));
        if (vendor is null) Assert.Ignore("/proc/cpuinfo names no vendor.");
        bool preloaded = (Environment.GetEnvironmentVariable("LD_PRELOAD") ?? "").Contains("mkl_intel_kernels", StringComparison.Ordinal);

        bool? generic = LieConv.Runtime.TorchRuntime.MklTakesGenericKernels();

        Assert.That(generic, Is.EqualTo(!preloaded && !vendor.Contains("GenuineIntel", StringComparison.Ordinal)), vendor);
    }

    private static bool HasCompiler() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, "cc")) || File.Exists(Path.Combine(dir, "gcc")));

    private static string RepositoryRoot()
    {
        var root = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "LieConv.MLNet.sln"))) root = root.Parent;
        if (root is null) Assert.Ignore("The repository is not above this build, so tools/mkl-amd cannot be found.");
        return root!.FullName;
    }
}
