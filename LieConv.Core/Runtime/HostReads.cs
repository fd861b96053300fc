using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Runtime;

/// <summary>
/// The one place where layers read tensor values on the host, and decide whether they may.
/// </summary>
/// <remarks>
/// Several CPU routes size their work from values: the fullest ball, the real rows of a padded batch, the cubes of a
/// spatial grid, whether every cloud holds the same points, whether a batch norm may take libtorch's fused kernels.
/// On the CPU such a read is free. On a GPU it would make the training step wait for the device in every layer
/// (issue 7 asks for no host synchronisation inside a step), so there the layers take fixed-size device routes and
/// read nothing. Every such read goes through this class, which lets a machine without a GPU check both halves of
/// that promise: inside <see cref="ActAsAccelerator"/> CPU tensors are routed as a GPU's, and a read throws.
/// </remarks>
internal static class HostReads
{
    private static readonly AsyncLocal<bool> actingAsAccelerator = new();
    private static long count;

    /// <summary>How many reads went through this class in the process so far (tests compare routes by it).</summary>
    public static long Count => Interlocked.Read(ref count);

    /// <summary>
    /// Whether a layer may read values of tensors that live where <paramref name="tensor"/> does without stalling a
    /// device: on the CPU, except inside <see cref="ActAsAccelerator"/>.
    /// </summary>
    public static bool AreFree(Tensor tensor) => tensor.device_type == DeviceType.CPU && !actingAsAccelerator.Value;

    /// <summary>
    /// Until the returned scope is disposed (on this thread and the tasks it starts), CPU tensors take the routes a
    /// GPU takes and every read through this class throws <see cref="InvalidOperationException"/>: for tests.
    /// </summary>
    public static IDisposable ActAsAccelerator()
    {
        bool before = actingAsAccelerator.Value;
        actingAsAccelerator.Value = true;
        return new Restore(before);
    }

    /// <summary>The value of a one-element tensor; <paramref name="purpose"/> names it in the error of a forbidden read.</summary>
    public static T Item<T>(Tensor tensor, string purpose) where T : unmanaged
    {
        Check(purpose);
        return tensor.item<T>();
    }

    /// <summary>Every value of <paramref name="tensor"/>, in row-major order.</summary>
    public static T[] Values<T>(Tensor tensor, string purpose) where T : unmanaged
    {
        Check(purpose);
        return tensor.contiguous().data<T>().ToArray();
    }

    /// <summary>(count) the flat indices of the true entries of <paramref name="tensor"/>: its size is only known on the host.</summary>
    public static Tensor TrueIndices(Tensor tensor, string purpose)
    {
        Check(purpose);
        return tensor.flatten().nonzero().squeeze(1);
    }

    private static void Check(string purpose)
    {
        if (actingAsAccelerator.Value)
            throw new InvalidOperationException($"A GPU step would wait for the host here: reading {purpose}.");
        Interlocked.Increment(ref count);
    }

    private sealed class Restore(bool before) : IDisposable
    {
        public void Dispose() => actingAsAccelerator.Value = before;
    }
}
