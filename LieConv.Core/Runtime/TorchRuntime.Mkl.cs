using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace LieConv.Runtime;

public static partial class TorchRuntime
{
    /// <summary>
    /// When <see cref="MklTakesGenericKernels"/> is true: one line for a log or console that says so and what to do;
    /// otherwise null. Matters for CPU work only.
    /// </summary>
    public static string? MklGenericKernelsNote() =>
        MklTakesGenericKernels() == true
            ? $"libtorch's MKL runs its generic matrix kernels on this (non-Intel) processor ({MklOwnKernels.Outcome}); its own " +
              "are about twice as fast on an AMD EPYC with AVX-512 (README → Runtime → \"AMD processors\")."
            : null;

    /// <summary>
    /// Whether libtorch's MKL runs its generic matrix kernels in this process because the processor is not Intel's:
    /// false on Linux x86-64 wherever LieConv loaded before libtorch (it answers MKL's vendor test itself) unless
    /// <c>LIECONV_MKL_OWN_KERNELS=0</c>; null where it cannot tell (not Linux, or a libtorch without MKL).
    /// </summary>
    /// <remarks>
    /// MKL, inside libtorch_cpu.so, asks <c>mkl_serv_intel_cpu_true()</c> and takes generic kernels when it answers 0,
    /// whatever instructions the processor has: on an AMD EPYC with AVX-512, float32 products ran at less than half
    /// the rate of MKL's own kernels (README → Runtime → "AMD processors"). LieConv.Core answers it with 1 when it is
    /// loaded (README → Runtime → "AMD processors"). This asks the same function MKL's own call reaches: a library in the
    /// process's global scope (LieConv's, or a preloaded one) first, else libtorch's. Loads libtorch if it is not
    /// loaded yet.
    /// </remarks>
    public static unsafe bool? MklTakesGenericKernels()
    {
        if (!OperatingSystem.IsLinux()) return null;
        _ = get_num_threads();   // loads libtorch, which TorchSharp opens into a scope of its own
        if (!NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), MklOwnKernels.VendorTest, out var answer))
        {
            if (!NativeLibrary.TryLoad("libtorch_cpu.so", out var libtorch)) return null;
            try
            {
                if (!NativeLibrary.TryGetExport(libtorch, MklOwnKernels.VendorTest, out answer)) return null;
            }
            finally
            {
                NativeLibrary.Free(libtorch);   // drops only this reference: TorchSharp's keeps it loaded
            }
        }
        return ((delegate* unmanaged<int>)answer)() == 0;
    }
}
