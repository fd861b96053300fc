using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Runtime;

/// <summary>
/// Process-wide TorchSharp set-up: choosing a device by name, thread count and seeding from one seed.
/// </summary>
public static partial class TorchRuntime
{
    /// <summary>
    /// The device named by <paramref name="name"/>: <c>cpu</c>, <c>cuda</c> (GPU 0) or <c>cuda:N</c>.
    /// Asking for CUDA initialises TorchSharp's CUDA backend first.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not one of the forms above.</exception>
    /// <exception cref="InvalidOperationException">CUDA was asked for but this process cannot use it, or the GPU index does not exist.</exception>
    public static Device ResolveDevice(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var match = DevicePattern().Match(name.Trim());
        if (!match.Success)
            throw new ArgumentException($"Device '{name}' is not recognised; use 'cpu', 'cuda' or 'cuda:N' (N = GPU index).", nameof(name));
        if (match.Groups["kind"].Value.Equals("cpu", StringComparison.OrdinalIgnoreCase))
            return CPU;

        int index = match.Groups["index"].Success ? int.Parse(match.Groups["index"].Value) : 0;
        EnsureCuda();
        int count = cuda.device_count();
        if (index >= count)
            throw new InvalidOperationException($"Device '{name}' does not exist: this machine has {count} CUDA device(s).");
        return new Device(DeviceType.CUDA, index);
    }

    /// <summary>Whether this process can run on CUDA (initialising the CUDA backend if it is present).</summary>
    public static bool IsCudaAvailable() => TryInitializeDeviceType(DeviceType.CUDA) && cuda.is_available();

    /// <summary>
    /// Moves a tensor that was just built on the host (a batch being collated) to <paramref name="device"/> and
    /// disposes the host tensor; returns the tensor itself when it is already there (on the CPU nothing is copied).
    /// </summary>
    /// <remarks>
    /// A copy from ordinary host memory to a GPU makes the host wait until the GPU has run everything queued before
    /// it, so uploading the next batch would drain the queue that the previous training step filled, a host
    /// synchronisation in every step. To a CUDA device the tensor is therefore first copied into page-locked memory
    /// and then copied without blocking, as PyTorch's <c>pin_memory</c> data loaders do; libtorch keeps the
    /// page-locked block until the copy has run, so it can be released at once. Where page-locked memory cannot be
    /// had, the ordinary copy is made.
    /// </remarks>
    /// <param name="hostTensor">A CPU tensor that nothing else uses (it is disposed when a copy is made).</param>
    /// <param name="device">Where the tensor goes.</param>
    public static Tensor Upload(Tensor hostTensor, Device device)
    {
        ArgumentNullException.ThrowIfNull(hostTensor);
        ArgumentNullException.ThrowIfNull(device);
        if (device.type == DeviceType.CPU && hostTensor.device_type == DeviceType.CPU) return hostTensor;
        Tensor moved;
        if (device.type == DeviceType.CUDA && hostTensor.device_type == DeviceType.CPU && TryPin(hostTensor) is { } pinned)
        {
            moved = pinned.to(device, non_blocking: true);
            pinned.Dispose();
        }
        else
        {
            moved = hostTensor.to(device);
        }
        if (!ReferenceEquals(moved, hostTensor)) hostTensor.Dispose();
        return moved;
    }

    private static Tensor? TryPin(Tensor hostTensor)
    {
        try
        {
            return hostTensor.pin_memory();
        }
        catch (System.Runtime.InteropServices.ExternalException)
        {
            return null;   // no page-locked memory to be had: the ordinary copy still works
        }
    }

    /// <summary>Sets the number of threads libtorch uses for intra-op parallelism (process-wide).</summary>
    public static void SetThreadCount(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "At least one thread is needed.");
        set_num_threads(threads);
    }

    /// <summary>
    /// Seeds libtorch's global CPU and CUDA generators from <paramref name="seed"/>. Components that own a
    /// <see cref="Generator"/> or <see cref="Random"/> take theirs from <see cref="CreateGenerator"/> and
    /// <see cref="CreateRandom"/> with the same seed and a purpose, so that the streams differ but one seed fixes them all.
    /// </summary>
    public static void SeedEverything(long seed)
    {
        manual_seed(seed);
        if (cuda.is_available()) cuda.manual_seed_all(seed);
    }

    /// <summary>A torch generator for one purpose (e.g. "lift", "neighbourhoods"), derived from <paramref name="seed"/>.</summary>
    public static Generator CreateGenerator(long seed, string purpose, Device? device = null) =>
        new((ulong)DeriveSeed(seed, purpose), device ?? CPU);

    /// <summary>A .NET random stream for one purpose (e.g. "shuffle"), derived from <paramref name="seed"/>.</summary>
    public static Random CreateRandom(long seed, string purpose) => new((int)(DeriveSeed(seed, purpose) & int.MaxValue));

    /// <summary>A seed for one purpose, derived from <paramref name="seed"/> by SplitMix64 over a stable hash of the purpose.</summary>
    public static long DeriveSeed(long seed, string purpose)
    {
        ulong h = 14695981039346656037UL;                       // FNV-1a: stable across processes, unlike string.GetHashCode
        foreach (char c in purpose) h = (h ^ c) * 1099511628211UL;
        ulong z = unchecked((ulong)seed + h + 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (long)((z ^ (z >> 31)) & long.MaxValue);
    }

    private static void EnsureCuda()
    {
        try
        {
            InitializeDeviceType(DeviceType.CUDA);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidOperationException(
                "CUDA was requested but TorchSharp could not load a CUDA libtorch. Build with -p:TorchBackend=cuda-linux " +
                "(or cuda-windows), or with -p:TorchBackend=external and a CUDA PyTorch's lib folder on LD_LIBRARY_PATH; " +
                "the default build (TorchBackend=cpu) carries the CPU libtorch only. Cause: " + e.Message, e);
        }
        if (!cuda.is_available())
            throw new InvalidOperationException(
                "CUDA was requested but no CUDA device is available to this process (TorchSharp's CUDA backend loaded, " +
                "but torch.cuda.is_available() is false). Check the driver and CUDA_VISIBLE_DEVICES, or use 'cpu'.");
    }

    [GeneratedRegex(@"^(?<kind>cpu|cuda)(:(?<index>\d{1,3}))?$", RegexOptions.IgnoreCase)]
    private static partial Regex DevicePattern();
}
