using LieConv.Runtime;

namespace LieConv.Samples;

/// <summary>A line for the samples' output where the CPU could run matrix products much faster than it will.</summary>
public static class ProcessorNote
{
    /// <summary>On the CPU, <see cref="TorchRuntime.MklGenericKernelsNote"/> as a note; otherwise null.</summary>
    /// <param name="device">The sample's <c>--device</c>.</param>
    public static string? ForDevice(string? device) =>
        (device is null || device.Trim().Equals("cpu", StringComparison.OrdinalIgnoreCase)) && TorchRuntime.MklGenericKernelsNote() is string note
            ? "Note: " + note
            : null;
}
