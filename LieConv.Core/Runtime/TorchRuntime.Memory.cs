using System.Runtime.InteropServices;

namespace LieConv.Runtime;

public static partial class TorchRuntime
{
    private const int MallocTrimThreshold = -1;   // M_TRIM_THRESHOLD
    private const int MallocMmapMax = -4;         // M_MMAP_MAX

    /// <summary>
    /// Keeps memory that libtorch frees on the CPU in the process for reuse, instead of handing it back to the
    /// system after every tensor (Linux with glibc; elsewhere it does nothing and returns false).
    /// </summary>
    /// <remarks>
    /// glibc serves every allocation above 32 MB with a fresh mmap and unmaps it on free, so each training step
    /// over large clouds pays for zeroing the pages of all its big tensors again: on 2 cores a 16k-point T(3)
    /// step spent more time in the kernel than in libtorch (3.3 s per step, 1.5 s with this setting). The cost
    /// is that the resident set stays near the peak of the largest step. It changes the allocator of the whole
    /// process, so it is a choice for the application (the samples and benchmarks make it), not made behind
    /// its back.
    /// </remarks>
    /// <returns>Whether the setting was applied.</returns>
    public static bool RetainFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return mallopt(MallocMmapMax, 0) == 1 && mallopt(MallocTrimThreshold, int.MaxValue) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;   // not glibc (e.g. musl)
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
