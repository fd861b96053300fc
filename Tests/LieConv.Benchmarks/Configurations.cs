using System.Diagnostics;
using LieConv.Datasets.Io;
using LieConv.Datasets.Springs;
using LieConv.Models;
using LieConv.Models.Dynamics;
using LieConv.Nn;
using LieConv.Runtime;
using LieConv.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Benchmarks;

/// <summary>One benchmark's numbers, printed as one JSON line.</summary>
internal sealed record BenchmarkResult(string Config, string Group, string Device, int Batch, long Points,
    double TrainMs, double InferenceMs, double PeakMemoryMb, string MemoryKind, long Parameters, double? OriginalTrainMs, double? OriginalInferenceMs, double? OriginalPeakMb)
{
    /// <summary>Peak RSS over the timed steps only, after the radii settled (null where it cannot be measured).</summary>
    public double? StepPeakMemoryMb { get; init; }

    /// <summary>Untimed training-mode forward passes it took the ball radii to settle (0 without balls; negative: the cap, unsettled).</summary>
    public int RadiusSettlingPasses { get; init; }

    /// <summary>Whether freed CPU memory stayed in the process (TorchRuntime.RetainFreedMemory).</summary>
    public bool RetainFreedMemory { get; init; }

    /// <summary>Every timed training step in order (ms), so that the spread behind the median shows.</summary>
    public IReadOnlyList<double> TrainStepsMs { get; init; } = [];

    /// <summary>
    /// The resident set after each timed training step (MB, CPU on Linux; else null): flat once the heap has settled,
    /// rising where it fragments.
    /// </summary>
    public IReadOnlyList<double>? TrainStepsResidentMb { get; init; }

    /// <summary>
    /// The float32 rate (GFLOP/s) of a 2048³ matrix product on the same device, measured in the same process just
    /// before the configuration: the shared 2-core machine's speed drifts by ±25 % over hours, more than most
    /// differences worth measuring, and this says how fast it was for this line.
    /// </summary>
    public double CalibrationGflops { get; init; }

    /// <summary>
    /// On a GPU, what one extra training step did with libtorch set to fail at any host-device synchronisation
    /// (<see cref="CudaSynchronisationCheck"/>): "none", or the error and where; null on the CPU.
    /// </summary>
    public string? HostSynchronisation { get; init; }

    /// <summary>
    /// The processor the line was measured on (<see cref="HostDescription"/>): the CI machine's host changes between
    /// sessions (MKL's AVX-512 kernels in some, an AMD EPYC with MKL's generic kernels in others), and ratios against
    /// the original's fixed numbers are only comparable on like hosts.
    /// </summary>
    public string Host { get; init; } = HostDescription.Current;
}

/// <summary>The processor and thread setup a benchmark line was measured with, in one line of text.</summary>
internal static class HostDescription
{
    /// <summary>E.g. "AMD EPYC, 2 logical processors, 2 libtorch threads, AVX-512, MKL own kernels".</summary>
    public static string Current { get; } = Describe();

    private static string Describe()
    {
        string vectors = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512"
            : System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "AVX2"
            : System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported ? "Neon" : "no wide vectors";
        // A preloaded library can change which kernels libtorch runs: the line says so.
        string preloaded = Environment.GetEnvironmentVariable("LD_PRELOAD") is { Length: > 0 } preload
            ? ", LD_PRELOAD " + string.Join(" ", preload.Split([' ', ':'], StringSplitOptions.RemoveEmptyEntries).Select(Path.GetFileName))
            : "";
        string mkl = TorchRuntime.MklTakesGenericKernels() switch { true => ", MKL generic kernels", false => ", MKL own kernels", null => "" };
        return $"{ProcessorModel()}, {Environment.ProcessorCount} logical processors, {get_num_threads()} libtorch threads, {vectors}{mkl}{preloaded}";
    }

    /// <summary>The first "model name" of /proc/cpuinfo on Linux; elsewhere the architecture.</summary>
    private static string ProcessorModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                        return line[(colon + 1)..].Trim();
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }
}

/// <summary>A network, a batch and a loss, timed the same way for every configuration.</summary>
internal sealed record Configuration(string Name, string Group, double? OriginalTrainMs, double? OriginalInferenceMs, double? OriginalPeakMb,
    Func<Device, (nn.Module Model, Func<Tensor> Loss, Action Infer, int Batch, long Points, Action? Backward)> Build)
{
    public BenchmarkResult Run(Device device, int steps, int warmup)
    {
        double calibration = MatrixProductGflops(device);
        // Backward, where given, runs a step's forward and backward passes instead (micro-batches); the loss still
        // drives the radius settling.
        var (model, loss, infer, batch, points, backward) = Build(device);
        backward ??= () => loss().backward();
        var optimizer = optim.Adam(model.parameters(), 1e-3);
        void Step()
        {
            optimizer.zero_grad();
            backward();
            optimizer.step();
        }
        var train = new List<double>();
        var residentAfterStep = new List<double>();
        model.train();
        int settling = SettleRadii(model, loss);
        bool stepPeak = device.type == DeviceType.CPU && ProcessMemory.ResetPeak();
        for (int i = 0; i < warmup + steps; i++)
        {
            var clock = Stopwatch.StartNew();
            using (TorchRuntime.EnterComputation())   // as the trainer's batches, and timed with them
            using (var scope = NewDisposeScope())
            {
                Step();
                if (device.type == DeviceType.CUDA) cuda.synchronize();
            }
            TorchRuntime.FreeUnscopedObjects();   // as the trainer does after every batch, and timed with the step
            if (i >= warmup)
            {
                train.Add(clock.Elapsed.TotalMilliseconds);
                residentAfterStep.Add(TorchRuntime.ResidentSetBytes() is long bytes ? Math.Round(bytes / 1048576.0) : double.NaN);
            }
        }
        string? hostSynchronisation = null;
        if (device.type == DeviceType.CUDA)
        {
            // One more step, untimed, in which any host synchronisation fails (issue 7: none inside a step).
            cuda.synchronize();
            using (TorchRuntime.EnterComputation())
            using (var scope = NewDisposeScope())
                hostSynchronisation = CudaSynchronisationCheck.Check(Step);
            cuda.synchronize();
            TorchRuntime.FreeUnscopedObjects();
        }
        var inference = new List<double>();
        model.eval();
        for (int i = 0; i < warmup + steps; i++)
        {
            var clock = Stopwatch.StartNew();
            using (TorchRuntime.EnterComputation())
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                infer();
                if (device.type == DeviceType.CUDA) cuda.synchronize();
            }
            TorchRuntime.FreeUnscopedObjects();
            if (i >= warmup) inference.Add(clock.Elapsed.TotalMilliseconds);
        }
        long parameters = model.parameters().Sum(p => p.numel());
        // TorchSharp exposes no CUDA allocator statistics; on a GPU the process RSS is reported and named as such.
        (double peak, string kind) = (ProcessMemory.WholeRunPeakRssMb, device.type == DeviceType.CUDA ? "host_peak_rss" : "peak_rss");
        return new BenchmarkResult(Name, Group, device.ToString(), batch, points, Median(train), Median(inference), Math.Round(peak, 1), kind,
            parameters, OriginalTrainMs, OriginalInferenceMs, OriginalPeakMb)
        {
            StepPeakMemoryMb = stepPeak ? Math.Round(ProcessMemory.PeakRssMb(), 1) : null,
            RadiusSettlingPasses = settling,
            TrainStepsMs = train.Select(t => Math.Round(t, 1)).ToArray(),
            TrainStepsResidentMb = device.type == DeviceType.CPU && residentAfterStep.All(double.IsFinite) ? residentAfterStep : null,
            CalibrationGflops = calibration,
            HostSynchronisation = hostSynchronisation,
        };
    }

    /// <summary>The median rate of five 2048³ float32 matrix products (after one untimed), in GFLOP/s.</summary>
    private static double MatrixProductGflops(Device device)
    {
        using var scope = NewDisposeScope();
        const int size = 2048;
        var a = randn(size, size, device: device);
        var times = new List<double>();
        for (int i = 0; i < 6; i++)
        {
            var clock = Stopwatch.StartNew();
            using (var product = matmul(a, a))
                if (device.type == DeviceType.CUDA) cuda.synchronize();
            if (i > 0) times.Add(clock.Elapsed.TotalSeconds);
        }
        double median = times.OrderBy(t => t).ElementAt(times.Count / 2);
        return Math.Round(2.0 * size * size * size / median / 1e9, 1);
    }

    /// <summary>
    /// Lets every ball radius reach the fill it adapts to, as in the first steps of training, with forward passes in
    /// training mode (no gradients, not timed); returns how many it took, negative when it stopped at the cap unsettled.
    /// </summary>
    /// <remarks>
    /// The radii start at 2 and move by half the fill error per training forward (reference §2): a radius whose
    /// fill stays within 10 % of its target moves by at most 0.05·fill per pass, the test applied here to the mean
    /// move over the last 5 passes (random lifts make single passes noisy). From 2, small fills take hundreds of
    /// passes — Trivial(2) images end near 4 to 14 — which is also how many steps a training run spends on it.
    /// The original's per-step cost does not depend on the radius, but ours does — shared and bounded balls compute
    /// only pairs in the ball — so steps are timed at the radius a network spends almost all its training at. The
    /// settling passes still count in <see cref="BenchmarkResult.PeakMemoryMb"/>, the whole process's peak.
    /// </remarks>
    private static int SettleRadii(nn.Module model, Func<Tensor> loss)
    {
        const int maxPasses = 400, window = 5;
        const double fillTolerance = 0.1;
        var layers = model.modules().OfType<LieConvolution>().Where(l => !l.Settings.Knn).ToList();
        if (layers.Count == 0) return 0;
        var history = new List<float[]> { layers.Select(l => l.Radius.item<float>()).ToArray() };
        for (int pass = 1; pass <= maxPasses; pass++)
        {
            using (var scope = NewDisposeScope())
            using (no_grad())
                loss();
            TorchRuntime.FreeUnscopedObjects();
            history.Add(layers.Select(l => l.Radius.item<float>()).ToArray());
            if (pass < window) continue;
            var (now, then) = (history[^1], history[^(window + 1)]);
            bool settled = layers.Select((l, i) => Math.Abs(now[i] - then[i]) / window <= 0.5 * fillTolerance * Math.Min(l.Settings.Fill, 1)).All(s => s);
            if (settled) return pass;
        }
        return -maxPasses;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return Math.Round(sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2, 1);
    }
}

/// <summary>The configurations of the original's README commands, with the original's numbers on this machine.</summary>
internal static class Configurations
{
    public static readonly IReadOnlyList<Configuration> All = new[]
    {
        RotMnist("rotmnist-t2", "T(2)", 1, 1469, 637, 2200),
        RotMnist("rotmnist-so2", "SO2(.2)", 1, 1720, 747, 2200),
        RotMnist("rotmnist-trivial", "Trivial(2)", 1, 1493, 707, 2300),
        RotMnist("rotmnist-se2", "SE2(.05)", 2, 4782, 2688, 4700),
        Qm9("qm9-t3", "T(3)", fill: 1.0, liftSamples: 1, neighbourhood: 100, 4117, 844, 3200),
        Qm9("qm9-se3", "SE3(.2)", fill: 0.5, liftSamples: 4, neighbourhood: 25, 23133, 5009, 8600),
        Scaling(256), Scaling(1024), Scaling(4096), Scaling(16384),
        Springs("springs-hlieresnet-t2", new DynamicsNetworkOptions { Network = DynamicsNetworkKind.HLieResNet, Group = "T(2)", Channels = 384, Layers = 4 }, 4190, 1455, 4100),
        Springs("springs-hlieresnet-t2-micro2", new DynamicsNetworkOptions { Network = DynamicsNetworkKind.HLieResNet, Group = "T(2)", Channels = 384, Layers = 4 }, 4190, 1455, 4100,
            microBatches: 2),
        Springs("springs-fc", new DynamicsNetworkOptions { Network = DynamicsNetworkKind.FC, Channels = 256, Layers = 4 }, 38, 12, 800),
    };

    /// <summary>
    /// Run only when named (session 26, 2 cores): 64k to 128k points 3 to 8 s a step in 4 to 7 GB; 256k 23 s in 13 GB;
    /// 512k, where the memory runs short, 194 s in 18 GB (the retained heap handed back and faulted in again).
    /// </summary>
    public static readonly IReadOnlyList<Configuration> OnRequest =
        new[] { Scaling(65536), Scaling(100_000), Scaling(131072), Scaling(262144), Scaling(524288) };

    /// <summary>Every configuration that can be named.</summary>
    public static IEnumerable<Configuration> Known => All.Concat(OnRequest);

    private static Configuration Scaling(int points) =>
        new($"scaling-t3-{(points >= 1024 && points % 1024 == 0 ? $"{points / 1024}k" : points.ToString())}", "T(3)", null, null, null, device =>
        {
            var model = new LieResNet(new LieResNetOptions
            {
                Group = "T(3)", InputChannels = 1, Outputs = 1, Channels = 64, Layers = 3, Knn = true, Neighbourhood = 25, Fill = 1,
            });
            model.to(device);
            // Constant density: the cube grows with the cloud.
            var coordinates = (rand(1, points, 3) * Math.Cbrt(points)).to(device);
            var input = new PointCloudBatch(coordinates, ones(1, points, 1).to(device), ones(1, points, dtype: ScalarType.Bool).to(device));
            var target = ones(1, 1).to(device);
            return (model, () => (model.forward(input) - target).square().mean(), () => model.forward(input), 1, (long)points, null);
        });

    /// <summary>
    /// One step of train_springs (reference §5.2, §5.3): batch 200 of generated 5-state chunks, RK4 integration of the
    /// network's field over the chunk (4 steps, 16 field evaluations), MSE against the true chunk. Inference integrates
    /// the same batch without gradients (the Hamiltonian networks still differentiate H inside). With
    /// <paramref name="microBatches"/> above 1 the step goes through <see cref="MicroBatching"/>, as the trainer's does
    /// with <see cref="TrainerOptions.MicroBatches"/>: the same batch and gradient, one part's graph at a time.
    /// </summary>
    private static Configuration Springs(string name, DynamicsNetworkOptions spec, double train, double infer, double peak, int microBatches = 1) =>
        new(name, spec.Network is DynamicsNetworkKind.HLieResNet or DynamicsNetworkKind.FLieResNet ? spec.Group : "none", train, infer, peak, device =>
        {
            const int batch = 200;
            var systems = SpringsGenerator.Generate(new SpringsGeneratorOptions { Systems = batch, Steps = 5, Seed = 0 });
            var trajectory = systems.TrajectoriesTensor().to(ScalarType.Float32).to(device);
            var data = new DynamicsBatch(trajectory.select(1, 0), systems.ParametersTensor().to(ScalarType.Float32).to(device),
                systems.TimesTensor().to(ScalarType.Float32).to(device), trajectory);
            var model = spec.Create();
            model.to(device);
            Action? backward = microBatches == 1 ? null
                : () => MicroBatching.ForwardBackward(data, microBatches, b => IntegratedDynamics.Forward(model, b));
            return (model, () => IntegratedDynamics.Forward(model, data).Loss,
                () => IntegratedDynamics.Predict(model, data.InitialState, data.SystemParameters, data.Times), batch, (long)spec.Particles, backward);
        });

    private static Configuration RotMnist(string name, string group, int liftSamples, double train, double infer, double peak) =>
        new(name, group, train, infer, peak, device =>
        {
            const int batch = 25;
            var model = new ImageLieResNet(new ImageLieResNetOptions
            {
                Group = group, Channels = 128, TotalDownsample = 0.1, Fill = 0.1, Neighbourhood = 25, LiftSamples = liftSamples,
            });
            model.to(device);
            var images = ((rand(batch, 1, 28, 28) - 0.130) / 0.297).to(device);
            var labels = randint(0, 10, new long[] { batch }).to(device);
            return (model, () => nn.functional.cross_entropy(model.forward(images), labels), () => model.forward(images), batch, 648L * liftSamples, null);
        });

    private static Configuration Qm9(string name, string group, double fill, int liftSamples, long neighbourhood, double train, double infer, double peak) =>
        new(name, group, train, infer, peak, device =>
        {
            const int batch = 75;
            var (positions, charges) = Molecules(batch, device);
            var model = new MoleculeLieResNet(new MoleculeLieResNetOptions
            {
                Group = group, Fill = fill, LiftSamples = liftSamples, Neighbourhood = neighbourhood, Channels = 1536, Layers = 6,
            });
            model.to(device);
            var targets = randn(batch).to(device);
            var input = new MoleculeBatch(positions, charges);
            return (model, () => (model.forward(input) - targets).abs().mean(), () => model.forward(input), batch, positions.shape[1], null);
        });

    /// <summary>The first molecules of the real QM9 test split, cropped to the largest of them (as a batch collates).</summary>
    private static (Tensor Positions, Tensor Charges) Molecules(int count, Device device)
    {
        var path = FindSharedFile("data/qm9/lieconv_npz/test.npz")
            ?? throw new FileNotFoundException("The QM9 benchmarks read ../shared/data/qm9/lieconv_npz/test.npz, which is not here.");
        var charges = Npy.ReadNpzMember(path, "charges");
        var positions = Npy.ReadNpzMember(path, "positions");
        long atoms = charges.Shape[1];
        var z = tensor(charges.ToInt64s().Take(count * (int)atoms).ToArray(), new long[] { count, atoms }).to(ScalarType.Float32);
        var x = tensor(positions.ToSingles().Take(count * (int)atoms * 3).ToArray(), new long[] { count, atoms, 3 });
        long used = (z > 0).any(dim: 0).nonzero().max().item<long>() + 1;
        return (x.narrow(1, 0, used).to(device), z.narrow(1, 0, used).to(device));
    }

    private static string? FindSharedFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", relative), Path.Combine(dir.FullName, "..", "shared", relative) })
                if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }
}
