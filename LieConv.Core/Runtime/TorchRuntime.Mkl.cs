using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LieConv.Runtime;

public static partial class TorchRuntime
{
    private const string MklVendorTest = "mkl_serv_intel_cpu_true";

    /// <summary>
    /// When <see cref="MklTakesGenericKernels"/> is true: one line for a log or console that says so and what to do;
    /// otherwise null. Matters for CPU work only.
    /// </summary>
    public static string? MklGenericKernelsNote() =>
        MklTakesGenericKernels() == true
            ? "libtorch's MKL runs its generic matrix kernels on this (non-Intel) processor; preloading tools/mkl-amd's library " +
              "makes it run its own, about twice as fast on an AMD EPYC with AVX-512 (README → Runtime → \"AMD processors\")."
            : null;

    /// <summary>
    /// Whether libtorch's MKL runs its generic matrix kernels in this process because the processor is not Intel's
    /// (true on AMD processors unless <c>tools/mkl-amd</c>'s library answers MKL's vendor test); null where it cannot
    /// tell (not Linux, or a libtorch without MKL).
    /// </summary>
    /// <remarks>
    /// MKL, inside libtorch_cpu.so, asks <c>mkl_serv_intel_cpu_true()</c> and takes generic kernels when it answers 0,
    /// whatever instructions the processor has: on an AMD EPYC with AVX-512, float32 products ran at less than half
    /// the rate of MKL's own kernels (README → Runtime → "AMD processors"). This asks the same function MKL's own call
    /// reaches: a library in the process's global scope (preloaded) first, else libtorch's. Loads libtorch if it is
    /// not loaded yet.
    /// </remarks>
    public static unsafe bool? MklTakesGenericKernels()
    {
        if (!OperatingSystem.IsLinux()) return null;
        _ = get_num_threads();   // loads libtorch, which TorchSharp opens into a scope of its own
        if (!NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), MklVendorTest, out var answer))
        {
            if (!NativeLibrary.TryLoad("libtorch_cpu.so", out var libtorch)) return null;
            try
            {
                if (!NativeLibrary.TryGetExport(libtorch, MklVendorTest, out answer)) return null;
            }
            finally
            {
                NativeLibrary.Free(libtorch);   // drops only this reference: TorchSharp's keeps it loaded
            }
        }
        return ((delegate* unmanaged<int>)answer)() == 0;
    }
}
