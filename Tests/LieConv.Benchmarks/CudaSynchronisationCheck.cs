using System.Runtime.InteropServices;

namespace LieConv.Benchmarks;

/// <summary>
/// Makes libtorch throw at every host-device synchronisation while a scope is open: the check behind issue 7's "no
/// host synchronisation inside a training step" on a real GPU (on the CPU the tests check the routes instead, through
/// HostReads.ActAsAccelerator).
/// </summary>
/// <remarks>
/// PyTorch's <c>torch.cuda.set_sync_debug_mode("error")</c> sets one integer in c10's CUDA library,
/// <c>c10::cuda::warning_state()</c>, which every synchronising path of libtorch's CUDA code reads (item, nonzero,
/// copies to pageable host memory, stream and device synchronisation, …) and, at level 2, fails with "called a
/// synchronizing CUDA operation". TorchSharp does not expose it, but it runs on the same libc10_cuda, so the integer
/// is set here through its exported symbol: the accessor function where the library exports it, else the function's
/// static object itself. The libtorch error reaches .NET as an exception whose managed stack names the layer that
/// synchronised.
/// </remarks>
internal static class CudaSynchronisationCheck
{
    private const int Disabled = 0, Error = 2;
    private const string Accessor = "_ZN3c104cuda13warning_stateEv";          // c10::cuda::warning_state()
    private const string StaticObject = "_ZZN3c104cuda13warning_stateEvE14warning_state_";   // its static WarningState

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr WarningStateAccessor();

    /// <summary>
    /// The address of c10's sync-debug level, or null with the reason (no CUDA libtorch in the process, or a libtorch
    /// that exports neither symbol).
    /// </summary>
    private static (IntPtr? Level, string? Unavailable) FindLevel()
    {
        // c10's own library normally exports it; the static object is a unique global, so any CUDA library of
        // libtorch that uses it points at the same one.
        string[] libraries = ["libc10_cuda.so", "libtorch_cuda.so"];
        bool loaded = false;
        foreach (var name in libraries)
        {
            if (!NativeLibrary.TryLoad(name, out var library)) continue;
            loaded = true;
            if (NativeLibrary.TryGetExport(library, Accessor, out var accessor))
                return (Marshal.GetDelegateForFunctionPointer<WarningStateAccessor>(accessor)(), null);
            if (NativeLibrary.TryGetExport(library, StaticObject, out var state))
                return (state, null);
        }
        return (null, loaded ? $"neither {string.Join(" nor ", libraries)} exports {Accessor} or {StaticObject}"
            : "libc10_cuda.so is not loadable (no CUDA libtorch in this process)");
    }

    /// <summary>
    /// Runs <paramref name="step"/> with every host synchronisation an error, and says what happened: "none" when the
    /// step ran through, else the error and the managed frames of the project that led to it.
    /// </summary>
    public static string Check(Action step)
    {
        var (level, unavailable) = FindLevel();
        if (level is not IntPtr address) return $"unavailable: {unavailable}";
        if (Marshal.ReadInt32(address) != Disabled) return "unavailable: the sync-debug level was already set";
        Marshal.WriteInt32(address, Error);
        try
        {
            step();
            return "none";
        }
        catch (Exception e)
        {
            var frames = (e.StackTrace ?? "").Split('\n').Select(f => f.Trim()).Where(f => f.Contains("LieConv.", StringComparison.Ordinal)).Take(6);
            return $"synchronised: {e.Message.Split('\n')[0]} | at {string.Join(" < ", frames)}";
        }
        finally
        {
            Marshal.WriteInt32(address, Disabled);
        }
    }
}
