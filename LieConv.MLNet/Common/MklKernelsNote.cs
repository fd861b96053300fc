using LieConv.Runtime;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace LieConv.MLNet;

/// <summary>Tells a training channel when libtorch's MKL will run its generic kernels on this CPU (README → Runtime → "AMD processors").</summary>
internal static class MklKernelsNote
{
    /// <summary>Writes the note to <paramref name="channel"/> when training on the CPU with MKL's generic kernels.</summary>
    public static void Report(IChannel channel, torch.Device device)
    {
        if (device.type == DeviceType.CPU && TorchRuntime.MklTakesGenericKernels() == true)
            channel.Info("libtorch's MKL runs its generic matrix kernels on this (non-Intel) processor; preloading tools/mkl-amd's library " +
                "makes it run its own, about twice as fast on an AMD EPYC with AVX-512 (README → Runtime → \"AMD processors\").");
    }
}
