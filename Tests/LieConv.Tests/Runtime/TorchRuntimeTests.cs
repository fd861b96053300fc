using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Runtime;

[TestFixture]
public class TorchRuntimeTests
{
    [TestCase("cpu")]
    [TestCase("CPU")]
    [TestCase(" cpu ")]
    public void ResolveDevice_ReturnsTheCpu(string name) =>
        Assert.That(TorchRuntime.ResolveDevice(name).type, Is.EqualTo(DeviceType.CPU));

    [TestCase("gpu")]
    [TestCase("cuda:")]
    [TestCase("cuda:x")]
    [TestCase("")]
    [TestCase("mps")]
    public void ResolveDevice_RejectsUnknownNames(string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => TorchRuntime.ResolveDevice(name));
        Assert.That(ex!.Message, Does.Contain("'cpu', 'cuda' or 'cuda:N'"));
    }

    [TestCase("cuda")]
    [TestCase("cuda:1")]
    public void ResolveDevice_ExplainsWhichBuildCarriesCuda_WhenItIsMissing(string name)
    {
        if (TorchRuntime.IsCudaAvailable()) Assert.Ignore("This machine has CUDA; the error path cannot be exercised here.");
        var ex = Assert.Throws<InvalidOperationException>(() => TorchRuntime.ResolveDevice(name));
        Assert.That(ex!.Message, Does.Contain("TorchBackend"));
    }

    [Test]
    public void Upload_OnTheCpu_ReturnsTheHostTensorItself_Undisposed()
    {
        // The CUDA route (page-locked memory, non-blocking copy) needs a GPU: tools/gpu/checks.sh runs it through the
        // main job's ML.NET training there.
        using var host = tensor(new float[] { 1, 2, 3 });
        var moved = TorchRuntime.Upload(host, CPU);
        Assert.That(moved, Is.SameAs(host));
        Assert.That(host.IsInvalid, Is.False);
        Assert.That(moved.data<float>().ToArray(), Is.EqualTo(new float[] { 1, 2, 3 }));
    }

    [Test]
    public void SeedEverything_MakesTorchDrawsReproducible()
    {
        TorchRuntime.SeedEverything(17);
        var first = rand(5).data<float>().ToArray();
        TorchRuntime.SeedEverything(17);
        Assert.That(rand(5).data<float>().ToArray(), Is.EqualTo(first));
        TorchRuntime.SeedEverything(18);
        Assert.That(rand(5).data<float>().ToArray(), Is.Not.EqualTo(first));
    }

    [Test]
    public void DerivedStreams_AreStablePerPurpose_AndDifferAcrossPurposesAndSeeds()
    {
        // Fixed numbers: a derived seed must not change between processes or releases (saved runs rely on it).
        Assert.That(TorchRuntime.DeriveSeed(0, "lift"), Is.EqualTo(TorchRuntime.DeriveSeed(0, "lift")));
        var seeds = new[] { TorchRuntime.DeriveSeed(0, "lift"), TorchRuntime.DeriveSeed(0, "shuffle"), TorchRuntime.DeriveSeed(1, "lift") };
        Assert.That(seeds.Distinct().Count(), Is.EqualTo(3));
        Assert.That(seeds, Is.All.GreaterThanOrEqualTo(0));

        using var g1 = TorchRuntime.CreateGenerator(5, "lift");
        using var g2 = TorchRuntime.CreateGenerator(5, "lift");
        Assert.That(rand(new long[] { 4 }, generator: g1).data<float>().ToArray(), Is.EqualTo(rand(new long[] { 4 }, generator: g2).data<float>().ToArray()));
        Assert.That(TorchRuntime.CreateRandom(5, "shuffle").Next(), Is.EqualTo(TorchRuntime.CreateRandom(5, "shuffle").Next()));
    }

    [Test]
    public void SetThreadCount_ValidatesAndApplies()
    {
        int before = get_num_threads();
        try
        {
            TorchRuntime.SetThreadCount(1);
            Assert.That(get_num_threads(), Is.EqualTo(1));
        }
        finally { set_num_threads(before); }
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchRuntime.SetThreadCount(0));
    }

    [Test]
    public void FreeUnscopedObjects_RunsTheFinalizersOfDroppedObjects()
    {
        Training.FinalizationProbe.Reset();
        for (int i = 0; i < 100; i++) Training.FinalizationProbe.Drop();
        Assume.That(Training.FinalizationProbe.Finalized, Is.Zero, "no collection ran in between");
        TorchRuntime.FreeUnscopedObjects();
        Assert.That(Training.FinalizationProbe.Finalized, Is.EqualTo(100));
    }

    /// <summary>
    /// The collection could finalize a TorchSharp scalar under another thread's tensor operation: while a marked
    /// section is open on any thread (a trainer's batch, a transformer's scoring call), it waits for the next call.
    /// </summary>
    [Test]
    public void FreeUnscopedObjects_SkipsWhileTensorWorkIsInFlight_AndCollectsAfter()
    {
        Training.FinalizationProbe.Reset();
        bool whileComputing;
        int finalizedWhileComputing;
        using (SectionOnAnotherThread.Open())
        {
            for (int i = 0; i < 10; i++) Training.FinalizationProbe.Drop();
            whileComputing = TorchRuntime.FreeUnscopedObjects();
            finalizedWhileComputing = Training.FinalizationProbe.Finalized;
        }
        Assert.That(whileComputing, Is.False, "skipped while the other thread's section was open");
        Assume.That(finalizedWhileComputing, Is.Zero, "no collection of the runtime's own ran in between");
        Assert.That(TorchRuntime.FreeUnscopedObjects(), Is.True);
        Assert.That(Training.FinalizationProbe.Finalized, Is.EqualTo(10));
    }

    [Test]
    public void FreeUnscopedObjects_SkipsInsideASectionOfItsOwnThread()
    {
        using (TorchRuntime.EnterComputation())
        using (TorchRuntime.EnterComputation())   // sections nest
            Assert.That(TorchRuntime.FreeUnscopedObjects(), Is.False);
        Assert.That(TorchRuntime.FreeUnscopedObjects(), Is.True, "both sections closed");
    }

    /// <summary>Allocates about <paramref name="megabytes"/> MB of short-lived small objects on a thread of its own.</summary>
    private static void AllocateElsewhere(int megabytes)
    {
        var thread = new Thread(() =>
        {
            object? last = null;
            for (int i = 0; i < megabytes * 1024; i++) last = new byte[1000];
            GC.KeepAlive(last);
        });
        thread.Start();
        thread.Join();
    }

    /// <summary>
    /// TorchSharp lets a scalar go while its native call still reads it, so a collection started by any thread's
    /// allocation could finalize it under the call: no collection may run while tensor work is in a section.
    /// </summary>
    [Test]
    public void EnterComputation_HoldsBackCollectionsThatOtherThreadsAllocationsWouldStart()
    {
        Assert.That(TorchRuntime.FreeUnscopedObjects(), Is.True);
        int before = GC.CollectionCount(0);
        AllocateElsewhere(96);
        Assume.That(GC.CollectionCount(0), Is.GreaterThan(before), "without a section, that much allocation collects");

        var x = randn(64, 8).requires_grad_(true);
        int held, during;
        bool heldDuring;
        using (TorchRuntime.EnterComputation())
        using (var scope = NewDisposeScope())
        {
            held = GC.CollectionCount(0);
            var worker = new Thread(() => AllocateElsewhere(96));
            worker.Start();
            // Tensor work with scalars while the other thread allocates.
            for (int i = 0; i < 200; i++) (x * 0.5 + 1.5).mul(2.0).sum().backward();
            worker.Join();
            during = GC.CollectionCount(0) - held;
            heldDuring = TorchRuntime.CollectionsHeld;
        }
        Assert.That(during, Is.Zero, "collections while the section was open");
        Assert.That(heldDuring, Is.True);
        Assert.That(TorchRuntime.CollectionsHeld, Is.False, "the region ends with the section");
        Assert.That(x.grad!.allclose(full_like(x, 200.0)), Is.True);
    }

    [Test]
    public void EnterComputation_HoldsCollectionsUntilTheLastOpenSectionCloses()
    {
        using (SectionOnAnotherThread.Open())
        {
            using (TorchRuntime.EnterComputation())
                Assert.That(TorchRuntime.CollectionsHeld, Is.True);
            Assert.That(TorchRuntime.CollectionsHeld, Is.True, "the other thread's section is still open");
        }
        Assert.That(TorchRuntime.CollectionsHeld, Is.False);

        // The thread that started the hold closes first; the other ends it.
        var first = TorchRuntime.EnterComputation();
        using (SectionOnAnotherThread.Open())
        {
            first.Dispose();
            Assert.That(TorchRuntime.CollectionsHeld, Is.True, "the other thread's section is still open");
        }
        Assert.That(TorchRuntime.CollectionsHeld, Is.False);
    }

    /// <summary>An <see cref="TorchRuntime.EnterComputation"/> section held open on a thread of its own until disposed.</summary>
    private sealed class SectionOnAnotherThread : IDisposable
    {
        private readonly ManualResetEventSlim entered = new(), release = new();
        private readonly Thread worker;

        private SectionOnAnotherThread()
        {
            worker = new Thread(() =>
            {
                using (TorchRuntime.EnterComputation())
                {
                    entered.Set();
                    release.Wait();
                }
            });
            worker.Start();
            entered.Wait();
        }

        public static SectionOnAnotherThread Open() => new();

        public void Dispose()
        {
            release.Set();
            worker.Join();
            entered.Dispose();
            release.Dispose();
        }
    }

    [Test]
    public void EnterComputation_SpendingMoreThanTheBudget_EndsTheHoldEarly_WithoutError()
    {
        using (TorchRuntime.EnterComputation())
        {
            Assert.That(TorchRuntime.CollectionsHeld, Is.True);
            AllocateElsewhere((int)(TorchRuntime.ComputationAllocationBudgetBytes >> 20) + 64);
            Assert.That(TorchRuntime.CollectionsHeld, Is.False, "over budget, collections run again");
        }
        using (TorchRuntime.EnterComputation())
            Assert.That(TorchRuntime.CollectionsHeld, Is.True, "the next section holds them again");
    }

    [Test]
    public void EnterComputation_LeavesTheApplicationsOwnNoGcRegionAlone()
    {
        Assume.That(GC.TryStartNoGCRegion(16L << 20), Is.True);
        try
        {
            using (TorchRuntime.EnterComputation())
                Assert.That(TorchRuntime.CollectionsHeld, Is.False, "not the library's region");
            Assert.That(System.Runtime.GCSettings.LatencyMode, Is.EqualTo(System.Runtime.GCLatencyMode.NoGCRegion), "still open");
        }
        finally
        {
            GC.EndNoGCRegion();
        }
    }

    [Test]
    public void ResidentSetBytes_ReadsWithoutAllocating()
    {
        long? first = TorchRuntime.ResidentSetBytes();
        if (first is null) Assert.Ignore("No /proc/self/statm here (not Linux).");
        long before = GC.GetAllocatedBytesForCurrentThread();
        long? second = TorchRuntime.ResidentSetBytes();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero, "managed bytes allocated by a read (the background check runs it twice a second)");
        Assert.That(second, Is.GreaterThan(10L << 20).And.LessThan(first!.Value * 4), "a plausible resident set");
    }

    [Test]
    public void RetainFreedMemory_AppliesOnLinuxWithGlibc_AndTensorsStillWork()
    {
        bool applied = TorchRuntime.RetainFreedMemory();
        if (OperatingSystem.IsLinux() && File.Exists("/lib/x86_64-linux-gnu/libc.so.6"))
            Assert.That(applied, Is.True, "glibc's mallopt accepted both settings");
        // A tensor above glibc's 32 MB mmap threshold is now served from the heap; it must still read back.
        var big = arange(16_000_000, dtype: ScalarType.Float32);
        Assert.That(big[15_999_999].item<float>(), Is.EqualTo(15_999_999f));
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchRuntime.RetainFreedMemory(0));
    }

    [Test]
    public void RetainedMemory_StaysBelowItsLimit_AndIsHandedBackAboveIt()
    {
        if (!TorchRuntime.RetainFreedMemory() || TorchRuntime.ResidentSetBytes() is null)
            Assert.Ignore("Retaining freed memory needs Linux with glibc.");
        long limitBefore = TorchRuntime.RetainedMemoryLimitBytes;
        const long size = 512L << 20;
        try
        {
            long withTensor;
            // Blocks of 32 MB: a test thread allocates from one of glibc's secondary arenas, whose heaps hold at most
            // 64 MB; anything larger is mapped on its own there, and unmapped when freed, retained or not.
            using (var scope = NewDisposeScope())
            {
                for (int i = 0; i < size >> 25; i++) ones(1L << 23, dtype: ScalarType.Float32);   // written, so resident
                withTensor = TorchRuntime.ResidentSetBytes()!.Value;
            }
            TorchRuntime.RetainFreedMemory(withTensor + (1L << 30));
            Thread.Sleep(3 * TorchRuntime.RetainedMemoryCheckInterval);
            Assert.That(TorchRuntime.ResidentSetBytes(), Is.GreaterThan(withTensor - (100L << 20)), "below the limit the freed block stays resident");

            long limit = withTensor - size / 2;
            TorchRuntime.RetainFreedMemory(limit);
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (TorchRuntime.ResidentSetBytes() > limit && waited.Elapsed < TimeSpan.FromSeconds(20)) Thread.Sleep(50);
            Assert.That(TorchRuntime.ResidentSetBytes(), Is.LessThanOrEqualTo(limit), "above the limit the free pages are handed back");
        }
        finally { TorchRuntime.RetainFreedMemory(limitBefore); }
    }
}
