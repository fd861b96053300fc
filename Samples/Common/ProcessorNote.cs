using LieConv.Runtime;

namespace LieConv.Samples;

/// <summary>A line for the samples' output where the CPU could run matrix products much faster than it will.</summary>
public static class ProcessorNote
{
    /// <summary>
    /// On the CPU, when libtorch's MKL takes its generic kernels (an AMD processor without <c>tools/mkl-amd</c>'s
    /// library): the line that says so and what to do; otherwise null.
    /// </summary>
    /// <param name="device">The sample's <c>--device</c>.</param>
    public static string? ForDevice(string? device) =>
        (device is null || device.Trim().Equals("cpu", StringComparison.OrdinalIgnoreCase)) && TorchRuntime.MklTakesGenericKernels() == true
            ? "Note: libtorch's MKL runs its generic matrix kernels on this (non-Intel) processor; with tools/mkl-amd's library " +
              "preloaded it runs its own, about twice as fast here (README → Runtime → \"AMD processors\")."
            : null;
}
