using System.Buffers.Text;
using System.Runtime;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LieConv.Runtime;

public static partial class TorchRuntime
{
    private const int MallocTrimThreshold = -1;   // M_TRIM_THRESHOLD
    private const int MallocMmapMax = -4;         // M_MMAP_MAX

    /// <summary>
    /// Keeps memory that libtorch frees on the CPU in the process for reuse, instead of handing it back to the
    /// system after every tensor, until the resident set passes <paramref name="residentLimitBytes"/> (Linux with
    /// glibc; elsewhere it does nothing and returns false).
    /// </summary>
    /// <remarks>
    /// <para>glibc serves every allocation above 32 MB with a fresh mmap and unmaps it on free, so each training step
    /// over large clouds pays for zeroing the pages of all its big tensors again: on 2 cores a 16k-point T(3)
    /// step spent more time in the kernel than in libtorch (3.3 s per step, 1.5 s with this setting). It changes the
    /// allocator of the whole process, so it is a choice for the application (the samples and benchmarks make it),
    /// not made behind its back.</para>
    /// <para>The price is that the heap keeps what a step freed, and can fragment. The growth once measured here came
    /// mostly from TorchSharp's unfinalized scalars pinning the heap, which <see cref="FreeUnscopedObjects"/> prevents
    /// when called after every batch, as the trainer does: over 40 steps RotMNIST T(2) then peaks at 0.76 GB instead
    /// of 1.44 GB and 16k points at 2.4 GB instead of 6.1 GB, flat after the first steps. The limit bounds whatever
    /// else fragments it (100k points once grew from 15 to 22.6 GB over 21 steps): a background check (every
    /// <see cref="RetainedMemoryCheckInterval"/>) hands the heap's free pages back to the system whenever the resident
    /// set is above it, so a long run cannot grow out of memory; the steps after a trim fault their pages in again.</para>
    /// </remarks>
    /// <param name="residentLimitBytes">
    /// Resident set above which freed memory is handed back; by default three quarters of the memory available to
    /// the process (<see cref="GC.GetGCMemoryInfo()"/>: physical memory or the container's limit).
    /// </param>
    /// <returns>Whether the setting was applied.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The limit is not positive.</exception>
    public static bool RetainFreedMemory(long? residentLimitBytes = null)
    {
        if (residentLimitBytes is <= 0)
            throw new ArgumentOutOfRangeException(nameof(residentLimitBytes), residentLimitBytes, "The resident set limit must be positive.");
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            if (mallopt(MallocMmapMax, 0) != 1 || mallopt(MallocTrimThreshold, int.MaxValue) != 1) return false;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;   // not glibc (e.g. musl)
        }
        Interlocked.Exchange(ref retainedMemoryLimit, residentLimitBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4 * 3);
        lock (retainedMemoryGate)
            retainedMemoryCheck ??= new Timer(_ => TrimIfAboveLimit(), null, RetainedMemoryCheckInterval, RetainedMemoryCheckInterval);
        return true;
    }

    /// <summary>How often the resident set is compared with the limit of <see cref="RetainFreedMemory"/>.</summary>
    public static TimeSpan RetainedMemoryCheckInterval { get; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The resident set above which retained memory is handed back (0 until <see cref="RetainFreedMemory"/> applies).</summary>
    public static long RetainedMemoryLimitBytes => Interlocked.Read(ref retainedMemoryLimit);

    /// <summary>
    /// Hands the free pages of the C heap back to the system now (glibc's <c>malloc_trim</c>); false where that is not
    /// possible (not Linux with glibc).
    /// </summary>
    public static bool TrimFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            malloc_trim(0);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Frees now the native memory of TorchSharp objects that no dispose scope tracks — above all the
    /// <see cref="TorchSharp.Scalar"/> that every number passed to a tensor operation becomes — by running a young-generation
    /// garbage collection and waiting for their finalizers. The trainer calls it after every batch; so should a loop of one's own.
    /// </summary>
    /// <remarks>
    /// <para>Such objects free their few native bytes only when the .NET collector finalizes them, and since they are
    /// small and the tensors are disposed by scopes, the collector may not run for a hundred training steps. Meanwhile
    /// the thousands of them that each step makes (RotMNIST T(2): about 3,500) lie scattered among the blocks of that
    /// step's tensors in the C heap, so the heap cannot join those blocks again when they are freed and grows to fit the
    /// next step's: the T(2) benchmark's heap grew from 0.8 to 1.9 GB over 80 steps (its live memory stayed at
    /// 0.23–0.25 GB between steps) and stopped growing only when the first collection ran. Collected after every step,
    /// it stays at 0.8 GB.</para>
    /// <para>A collection of the young generations with nothing but short-lived objects in them takes well under a
    /// millisecond; the finalizers run on the finalizer thread while this one waits.</para>
    /// <para>TorchSharp 0.107 reads a scalar's native handle and then lets the scalar go while its native call is still
    /// running, so a collection started by another thread at that moment can finalize the scalar under the call
    /// (seen as libtorch's "INTERNAL ASSERT FAILED at c10/core/Scalar.h" and an abort). This collection therefore
    /// never runs while tensor work marked with <see cref="EnterComputation"/> is in flight on any thread — the
    /// trainer's batches and the ML.NET transformers' scoring calls are — nor inside such a section: it is skipped
    /// instead (and returns false), and the next call collects. Collections that allocations start on their own, on
    /// any thread, are held back while such a section is open, up to a budget (see <see cref="EnterComputation"/>).
    /// Tensor work that other code runs outside sections is not covered (the race is TorchSharp's).</para>
    /// </remarks>
    /// <returns>Whether the collection ran (false: tensor work marked by <see cref="EnterComputation"/> was in flight).</returns>
    public static bool FreeUnscopedObjects()
    {
        // Inside a section of its own thread the write lock cannot be taken (nor should the collection run).
        if (ComputationGate.IsReadLockHeld || !ComputationGate.TryEnterWriteLock(0)) return false;
        try
        {
            GC.Collect(1, GCCollectionMode.Forced, blocking: true);
            GC.WaitForPendingFinalizers();
            return true;
        }
        finally
        {
            ComputationGate.ExitWriteLock();
        }
    }

    /// <summary>
    /// Marks tensor work on this thread until the returned scope is disposed (on this thread): while any such section
    /// is open, <see cref="FreeUnscopedObjects"/> does not collect, and no collection runs at all while the process's
    /// threads together allocate less than <see cref="ComputationAllocationBudgetBytes"/> of managed memory, so that
    /// no TorchSharp scalar an operation of the section is still reading can be finalized under it. Sections nest and
    /// run concurrently with each other.
    /// </summary>
    /// <remarks>
    /// <para>The first section to open starts a no-GC region (<see cref="GC.TryStartNoGCRegion(long)"/>, which
    /// itself collects once, while no section is open) and the last to close ends it. Collections that an allocation
    /// on any thread would otherwise start — the runtime's own threads, ML.NET's, the application's — then wait until
    /// the sections end. A section that allocates more than the budget ends the region early and collections run
    /// again as before; so does <see cref="GC.Collect()"/> called inside it. When the application has a no-GC region
    /// of its own open, sections leave it alone.</para>
    /// <para>Starting the region took 0.07–0.2 ms here (a median over 50, with 38 to 250 MB of live managed heap); now
    /// and then it is a full collection instead (up to 0.36 s with 6 million live objects), which the process would
    /// have run sooner or later anyway.</para>
    /// </remarks>
    public static IDisposable EnterComputation()
    {
        ComputationGate.EnterReadLock();
        lock (collectionHoldGate)
            if (openComputations++ == 0) collectionsHeld = TryHoldCollections();
        return new ScopeEnd(ExitComputation);
    }

    /// <summary>
    /// The managed memory that the process's threads may allocate while <see cref="EnterComputation"/> sections are
    /// open before a collection can run again (see there).
    /// </summary>
    public static long ComputationAllocationBudgetBytes { get; } = 256L << 20;

    /// <summary>Whether a no-GC region of <see cref="EnterComputation"/> is open now (false once it has ended early).</summary>
    public static bool CollectionsHeld
    {
        get
        {
            lock (collectionHoldGate)
                return collectionsHeld && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion;
        }
    }

    private static void ExitComputation()
    {
        lock (collectionHoldGate)
            if (--openComputations == 0 && collectionsHeld)
            {
                collectionsHeld = false;
                ReleaseCollections();
            }
        ComputationGate.ExitReadLock();
    }

    private static bool TryHoldCollections()
    {
        if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) return false;   // the application's own region
        try
        {
            return GC.TryStartNoGCRegion(ComputationAllocationBudgetBytes);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException)
        {
            return false;   // a region opened meanwhile elsewhere, or a GC configuration with less room than the budget
        }
    }

    private static void ReleaseCollections()
    {
        // Over budget, or after an induced collection, the region has already ended on its own.
        if (GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) return;
        try
        {
            GC.EndNoGCRegion();
        }
        catch (InvalidOperationException)
        {
            // It ended between the check and the call (a collection induced on another thread).
        }
    }

    private static readonly object collectionHoldGate = new();
    private static int openComputations;
    private static bool collectionsHeld;

    private static readonly ReaderWriterLockSlim ComputationGate = new(LockRecursionPolicy.SupportsRecursion);

    /// <summary>The process's resident set in bytes (Linux: /proc/self/statm), or null where it cannot be read.</summary>
    /// <remarks>
    /// Reads without allocating on the managed heap: the background check of <see cref="RetainFreedMemory"/> calls it
    /// twice a second, and a collection started from that thread could finalize a TorchSharp scalar that an operation
    /// on the training thread is still reading (TorchSharp does not keep its temporary scalars alive across its native
    /// calls; see <see cref="FreeUnscopedObjects"/>).
    /// </remarks>
    public static long? ResidentSetBytes()
    {
        try
        {
            Span<byte> text = stackalloc byte[128];
            int length;
            lock (statmGate)
            {
                statm ??= File.OpenHandle("/proc/self/statm");
                length = RandomAccess.Read(statm, text, fileOffset: 0);   // procfs renders the file afresh at offset 0
            }
            // "size resident shared text lib data dt", in pages
            var fields = text[..length];
            int firstSpace = fields.IndexOf((byte)' ');
            if (firstSpace < 0 || !Utf8Parser.TryParse(fields[(firstSpace + 1)..], out long residentPages, out _)) return null;
            return residentPages * Environment.SystemPageSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
    }

    private static readonly object statmGate = new();
    private static SafeFileHandle? statm;

    private static long retainedMemoryLimit;
    private static readonly object retainedMemoryGate = new();
    private static Timer? retainedMemoryCheck;

    private static void TrimIfAboveLimit()
    {
        if (ResidentSetBytes() > RetainedMemoryLimitBytes) TrimFreedMemory();
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
