using LieConv.Runtime;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace LieConv.MLNet;

/// <summary>Tells a training channel when libtorch's MKL will run its generic kernels on this CPU (README → Runtime → "AMD processors").</summary>
internal static class MklKernelsNote
{
    /// <summary>Writes <see cref="TorchRuntime.MklGenericKernelsNote"/> to <paramref name="channel"/> when training on the CPU.</summary>
    public static void Report(IChannel channel, torch.Device device)
    {
        if (device.type == DeviceType.CPU && TorchRuntime.MklGenericKernelsNote() is string note)
            channel.Info(note);
    }
}
