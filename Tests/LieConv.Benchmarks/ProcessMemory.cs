using System.Diagnostics;
using LieConv.Runtime;

namespace LieConv.Benchmarks;

/// <summary>The process's peak resident set, over the whole run or since the last <see cref="ResetPeak"/>.</summary>
internal static class ProcessMemory
{
    private const string Status = "/proc/self/status";
    private static double peakBeforeReset;

    /// <summary>Peak RSS of the whole process so far, resets included.</summary>
    public static double WholeRunPeakRssMb => Math.Max(peakBeforeReset, PeakRssMb());

    /// <summary>VmHWM of this process (Linux), else the .NET peak working set.</summary>
    public static double PeakRssMb()
    {
        if (File.Exists(Status))
            foreach (var line in File.ReadLines(Status))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        return Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
    }

    /// <summary>
    /// Hands freed heap memory back to the system and restarts the peak from the current resident set (Linux: writing
    /// 5 to /proc/self/clear_refs); returns false where that is not possible.
    /// </summary>
    /// <remarks>
    /// With <c>TorchRuntime.RetainFreedMemory</c> the resident set would otherwise stay at the largest step so far, so
    /// the trim lets the next steps show their own peak.
    /// </remarks>
    public static bool ResetPeak()
    {
        if (!OperatingSystem.IsLinux()) return false;
        peakBeforeReset = Math.Max(peakBeforeReset, PeakRssMb());
        TorchRuntime.TrimFreedMemory();
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
