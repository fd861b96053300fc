using System.Runtime.InteropServices;
using LieConv.Runtime;
using NUnit.Framework;

namespace LieConv.Tests.Runtime;

/// <summary>
/// MklOwnKernels: the shared object LieConv writes loads and answers MKL's vendor test with 1, it is loaded in exactly
/// the processes it should be, the libtorch this project ships still has the function it stands in for, and
/// TorchRuntime then reports MKL's own kernels.
/// </summary>
[TestFixture]
public sealed class MklOwnKernelsTests
{
    private const string VendorTest = "mkl_serv_intel_cpu_true";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int IntAnswer();

    [Test]
    public void SharedObject_LoadsAndItsVendorTestAnswersOne()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            Assert.Ignore("The shared object is an x86-64 ELF file, for Linux.");
        var directory = Directory.CreateTempSubdirectory("lieconv-test-");
        try
        {
            var path = Path.Combine(directory.FullName, "answer.so");
            File.WriteAllBytes(path, MklOwnKernels.SharedObject());
            var library = NativeLibrary.Load(path);   // locally: the test's copy must not stand in for anything
            try
            {
                var answer = Marshal.GetDelegateForFunctionPointer<IntAnswer>(NativeLibrary.GetExport(library, VendorTest));
                Assert.That(answer(), Is.EqualTo(1));
                Assert.That(NativeLibrary.TryGetExport(library, "mkl_serv_intel_cpu", out _), Is.False, "it defines one function only");
            }
            finally
            {
                NativeLibrary.Free(library);
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [TestCase(true, Architecture.X64, "AuthenticAMD", null, false, ExpectedResult = null)]
    [TestCase(true, Architecture.X64, "HygonGenuine", "1", false, ExpectedResult = null)]
    [TestCase(true, Architecture.X64, "GenuineIntel", null, false, ExpectedResult = "an Intel processor (MKL takes its own kernels already)")]
    [TestCase(true, Architecture.X64, "AuthenticAMD", " 0 ", false, ExpectedResult = "LIECONV_MKL_OWN_KERNELS=0")]
    [TestCase(true, Architecture.X64, "AuthenticAMD", null, true, ExpectedResult = "libtorch was loaded before LieConv (MKL may have chosen its kernels already)")]
    [TestCase(false, Architecture.X64, "AuthenticAMD", null, false, ExpectedResult = "not Linux")]
    [TestCase(true, Architecture.Arm64, null, null, false, ExpectedResult = "not an x86-64 process")]
    public string? Refusal_AnswersTheVendorTestOnlyForNonIntelX64LinuxBeforeLibtorchLoads(
        bool linux, Architecture architecture, string? vendor, string? switchValue, bool libtorchLoaded) =>
        MklOwnKernels.Refusal(linux, architecture, vendor, switchValue, libtorchLoaded);

    /// <summary>
    /// In this process (whose module initializer runs LieConv.Core's before any test touches libtorch): on a
    /// processor that is not Intel's the shared object is loaded unless LIECONV_MKL_OWN_KERNELS=0, and MKL takes its
    /// own kernels whenever it is loaded or the processor is Intel's.
    /// </summary>
    [Test]
    public void InThisProcess_MklTakesItsOwnKernelsUnlessSwitchedOff()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            Assert.Ignore("MKL's vendor test is answered on x86-64 Linux only.");
        bool intel = MklOwnKernels.ProcessorVendor() == "GenuineIntel";
        bool switchedOff = Environment.GetEnvironmentVariable(MklOwnKernels.SwitchVariable)?.Trim() == "0";

        bool? generic = TorchRuntime.MklTakesGenericKernels();

        Assert.That(MklOwnKernels.Loaded, Is.EqualTo(!intel && !switchedOff), MklOwnKernels.Outcome);
        Assert.That(generic, Is.EqualTo(!intel && !MklOwnKernels.Loaded), MklOwnKernels.Outcome);
        Assert.That(TorchRuntime.MklGenericKernelsNote() is null, Is.EqualTo(generic == false));
    }

    /// <summary>The vendor string agrees with /proc/cpuinfo's.</summary>
    [Test]
    public void ProcessorVendor_IsCpuinfosVendorId()
    {
        if (!File.Exists("/proc/cpuinfo") || RuntimeInformation.ProcessArchitecture != Architecture.X64) Assert.Ignore("Reads /proc/cpuinfo on x86-64.");
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("vendor_id", StringComparison.Ordinal));
        if (line is null) Assert.Ignore("/proc/cpuinfo names no vendor.");
        Assert.That(MklOwnKernels.ProcessorVendor(), Is.EqualTo(line!.Split(':', 2)[1].Trim()));
    }

    /// <summary>The bundled libtorch_cpu.so exports the function LieConv answers in its place.</summary>
    [Test]
    public void BundledLibtorch_ExportsMklsVendorTest()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("The vendor test is answered on Linux only.");
        var libtorch = Directory.EnumerateFiles(TestContext.CurrentContext.TestDirectory, "libtorch_cpu.so", SearchOption.AllDirectories).FirstOrDefault();
        if (libtorch is null) Assert.Ignore("No libtorch_cpu.so beside the tests (an external libtorch build).");

        var library = NativeLibrary.Load(libtorch!);
        try
        {
            Assert.That(NativeLibrary.TryGetExport(library, VendorTest, out _), Is.True,
                $"{libtorch} no longer exports {VendorTest}; answering it would have no effect with this libtorch");
        }
        finally
        {
            NativeLibrary.Free(library);
        }
    }
}
