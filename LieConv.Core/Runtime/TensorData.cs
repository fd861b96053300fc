using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Runtime;

/// <summary>The memory of CPU tensors, for the few loops written in C# (<c>IndexedRowSum</c>, <c>KernelNetworkPasses</c>).</summary>
internal static class TensorData
{
    /// <summary>
    /// The address of <paramref name="tensor"/>'s first element, valid while the tensor lives and keeps its storage;
    /// the caller reads it by the tensor's strides (the loops take contiguous tensors only).
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is not in CPU memory.</exception>
    public static IntPtr Of(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU)
            throw new ArgumentException($"Only a CPU tensor's memory can be read in place; this one is on {tensor.device}.", nameof(tensor));
        return FirstElement(tensor.Handle);
    }

    // TorchSharp's own export, which its TensorAccessor reads through; TorchSharp has loaded the library by then.
    [DllImport("LibTorchSharp", EntryPoint = "THSTensor_data")]
    private static extern IntPtr FirstElement(IntPtr tensor);
}
