using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LieConv.Datasets.Springs;
using LieConv.MLNet;
using LieConv.Models.Dynamics;
using LieConv.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Spectre.Console;
using static TorchSharp.torch;

namespace LieConv.Samples.Springs;

/// <summary>
/// The original's train_springs (reference §4.3, §5.3): generate spring systems, train a dynamics network on 5-step
/// chunks through ML.NET, report the test chunk MSE, long rollouts and energy drift, save and reload model.zip, and
/// plot the training curve and true vs predicted trajectories. The last line printed is one JSON object.
/// </summary>
/// <remarks>
/// README recipes (100 epochs, n_train 3000): <c>--network HLieResNet --lr 1e-3 --net_config "{'group':T(2),'k':384,'num_layers':4}"</c>
/// (or Trivial(2), SO2()); <c>--network FC --lr 1e-2 --net_config "{'k':256,'num_layers':4}"</c>; HFC likewise;
/// <c>--network OGN --net_config "{'k':256}"</c>; HOGN likewise.
/// </remarks>
public static class SpringsApp
{
    private sealed class TrajectoryPrediction
    {
        [VectorType] public float[] PredictedTrajectory { get; set; } = [];
    }

    /// <summary>Runs the sample; returns the exit code (0 on success, 1 for bad arguments or a failed run).</summary>
    /// <param name="args">Command-line arguments (see <c>--help</c>).</param>
    /// <param name="output">Where progress, results and the final JSON line go.</param>
    public static int Run(string[] args, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        var options = new SampleOptions(epochs: 2, batchSize: 200, learningRate: 1e-2, trainSize: 3000, testSize: 2000, output: Path.Combine("runs", "springs"));
        options.TrainSize.Aliases.Add("--n-train");
        options.TrainSize.Aliases.Add("--n_train");
        var network = new Option<string>("--network") { Description = "FC (default, as train_springs), HFC, HLieResNet, FLieResNet, OGN, HOGN or VOGN.", DefaultValueFactory = _ => "FC" };
        var validationSize = new Option<int>("--val-size") { Description = "Validation systems (selects the weights by val MSE, as the original).", DefaultValueFactory = _ => 200 };
        var systems = new Option<int?>("--systems") { Description = "Systems to generate (default: train + test + validation)." };
        var rollout = new Option<int>("--rollout-systems") { Description = "Test systems whose whole trajectories are rolled out.", DefaultValueFactory = _ => 100 };
        var microBatches = new Option<int>("--micro-batches", "--micro_batches")
        {
            Description = "Run each batch in this many micro-batches before the optimiser step: the same gradients, less memory (no batch norm).",
            DefaultValueFactory = _ => 1,
        };
        var root = new RootCommand("Spring dynamics (LieConv train_springs): HLieResNet and the FC, HFC, OGN, HOGN, VOGN baselines through ML.NET.");
        options.AddTo(root);
        foreach (Option option in new Option[] { network, validationSize, systems, rollout, microBatches }) root.Options.Add(option);

        return SampleCommand.Invoke(root, args, output, parsed => Execute(parsed, options, DynamicsSettings(parsed, options, network),
            parsed.GetValue(validationSize), parsed.GetValue(systems), parsed.GetValue(rollout), parsed.GetValue(microBatches), output));
    }

    /// <summary>
    /// The network: --network, then --net-config merged over the network's defaults (as the original merges), then the
    /// shared flags (--group, --k, --num-layers, --nbhd, --fill, --knn).
    /// </summary>
    private static DynamicsNetworkOptions DynamicsSettings(ParseResult parsed, SampleOptions options, Option<string> network)
    {
        var spec = new DynamicsNetworkOptions { Network = DynamicsNetworkOptions.ParseNetwork(parsed.GetValue(network)!) };
        if (parsed.GetValue(options.NetConfig) is string config)
        {
            foreach (var (key, value) in OriginalSyntax.ParseDict(config))
            {
                spec = key switch
                {
                    "k" => spec with { Channels = (int)OriginalSyntax.ParseNumber(value) },
                    "num_layers" => spec with { Layers = (int)OriginalSyntax.ParseNumber(value) },
                    "group" => spec with { Group = value },
                    "nbhd" => spec with { Neighbourhood = (long)OriginalSyntax.ParseNumber(value) },
                    "fill" => spec with { Fill = OriginalSyntax.ParseNumber(value) },
                    "knn" => spec with { Knn = OriginalSyntax.ParseBool(value) },
                    "bn" => spec with { BatchNorm = OriginalSyntax.ParseBool(value) },
                    "mean" => spec with { Mean = OriginalSyntax.ParseBool(value) },
                    "center" => spec with { Center = OriginalSyntax.ParseBool(value) },
                    "liftsamples" => spec with { LiftSamples = (int)OriginalSyntax.ParseNumber(value) },
                    "act" => spec with { Activation = NetworkSettings.ParseActivation(value) },
                    // The original forces these for the springs data (d 2, sys_dim 2); accepted when they agree.
                    "d" or "sys_dim" when (int)OriginalSyntax.ParseNumber(value) == 2 => spec,
                    "num_targets" when (int)OriginalSyntax.ParseNumber(value) == 1 => spec,
                    _ => throw new FormatException($"net_config key '{key}' = {value} is not supported; expected k, num_layers, group, nbhd, fill, knn, bn, mean, center, liftsamples or act."),
                };
            }
        }
        if (parsed.GetValue(options.Group) is string group) spec = spec with { Group = group };
        if (parsed.GetValue(options.K) is int k) spec = spec with { Channels = k };
        if (parsed.GetValue(options.NumLayers) is int layers) spec = spec with { Layers = layers };
        if (parsed.GetValue(options.Nbhd) is int nbhd) spec = spec with { Neighbourhood = nbhd };
        if (parsed.GetValue(options.Fill) is string fill) spec = spec with { Fill = OriginalSyntax.ParseNumber(fill) };
        if (parsed.GetValue(options.Knn) is bool knn) spec = spec with { Knn = knn };
        spec.Validate();
        return spec;
    }

    private static int Execute(ParseResult parsed, SampleOptions options, DynamicsNetworkOptions spec, int validationCount, int? systemCount,
        int rolloutCount, int microBatches, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No });
        int epochs = parsed.GetValue(options.Epochs), trainCount = parsed.GetValue(options.TrainSize), testCount = parsed.GetValue(options.TestSize);
        // The original's min(bs, n_train).
        int batchSize = Math.Min(parsed.GetValue(options.BatchSize), trainCount);
        double learningRate = parsed.GetValue(options.LearningRate);
        int seed = parsed.GetValue(options.Seed);
        string folder = Path.GetFullPath(parsed.GetValue(options.Output)!);
        Directory.CreateDirectory(folder);
        string cache = Path.GetFullPath(parsed.GetValue(options.Data) ?? Path.Combine(folder, "data"));
        Directory.CreateDirectory(cache);
        if (parsed.GetValue(options.Threads) is int threads) TorchSharp.torch.set_num_threads(threads);

        // ----- Data: generated once into the cache folder (reference §4.3) -----
        var generator = new SpringsGeneratorOptions { Systems = systemCount ?? trainCount + testCount + validationCount, Seed = seed };
        console.MarkupLine(Markup.Escape($"springs: {generator.Systems} systems of {generator.Particles} particles, {generator.Steps} steps, cache {cache}"));
        var clock = Stopwatch.StartNew();
        var systemSet = SpringsCache.LoadOrGenerate(cache, generator);
        console.MarkupLine(Markup.Escape($"data ready in {clock.Elapsed.TotalSeconds:F1} s"));
        var dataset = new SpringsDataset(systemSet, new SpringsDatasetOptions
        {
            TrainCount = trainCount,
            TestCount = testCount,
            ValidationCount = validationCount,
            Seed = seed,
        });

        var ml = new MLContext(seed);
        var schema = dataset.CreateSchemaDefinition();
        var train = ml.Data.LoadFromEnumerable(dataset.Examples(SpringsSplit.Train).ToArray(), schema);
        var validation = validationCount > 0 ? ml.Data.LoadFromEnumerable(dataset.Examples(SpringsSplit.Validation).ToArray(), schema) : null;

        // ----- Training through ML.NET -----
        var report = new TrainingReport(console);
        string groupText = spec.Network is DynamicsNetworkKind.HLieResNet or DynamicsNetworkKind.FLieResNet ? spec.GroupSpec : "none";
        console.MarkupLine(Markup.Escape($"{spec.Network}: k {spec.EffectiveChannels}, {spec.EffectiveLayers} layers, group {groupText}; " +
            $"{trainCount} train / {validationCount} val / {testCount} test systems, {epochs} epochs, batch {batchSize}, lr {SampleOptions.Format(learningRate)}"));
        if (ProcessorNote.ForDevice(parsed.GetValue(options.Device)) is string note) console.MarkupLine(Markup.Escape(note));
        var (model, trainSeconds) = report.Run($"{spec.Network}", trainCount, batchSize, epochs, progress => ml.Regression.Trainers.LieConvDynamics(new LieConvDynamicsTrainer.Options
        {
            Network = spec.Network.ToString(),
            Particles = spec.Particles,
            Channels = spec.Channels,
            Layers = spec.Layers,
            Group = spec.Group,
            Neighbourhood = spec.Neighbourhood,
            Fill = spec.Fill,
            Knn = spec.Knn,
            BatchNorm = spec.BatchNorm,
            Center = spec.Center,
            Activation = spec.Activation,
            Epochs = epochs,
            BatchSize = batchSize,
            MicroBatches = microBatches,
            LearningRate = learningRate,
            ValidationSet = validation,
            // The original keeps the checkpoint of the best val_MSE.
            EarlyStoppingMetric = validation is null ? null : IntegratedDynamics.MseMetric,
            Progress = progress,
            ReportEvery = 1,
            Device = parsed.GetValue(options.Device),
            Seed = seed,
        }).Fit(train));

        try
        {
            // ----- Test chunk MSE (the original's test_MSE), batched on each batch's first grid as in training -----
            var test = dataset.Examples(SpringsSplit.Test).ToArray();
            double squared = 0;
            long values = 0;
            foreach (var chunk in test.Chunk(batchSize))
            {
                var predicted = model.PredictTrajectories(chunk.Select(e => e.InitialState).ToArray(), chunk.Select(e => e.SystemParameters).ToArray(), chunk[0].Times);
                for (int i = 0; i < chunk.Length; i++)
                    for (int j = 0; j < predicted[i].Length; j++)
                    {
                        double d = predicted[i][j] - chunk[i].Trajectory[j];
                        squared += d * d;
                    }
                values += chunk.Sum(e => (long)e.Trajectory.Length);
            }
            double testMse = squared / values;
            console.MarkupLine(Markup.Escape($"test MSE (5-step chunks): {SampleOptions.Format(testMse)}"));

            // ----- Long rollouts of whole test trajectories: MSE over 100 and 500 states, energy drift under the true H -----
            var rolloutSystems = dataset.Indices(SpringsSplit.Test).Take(Math.Min(rolloutCount, testCount)).ToArray();
            var rollout = Rollout(model, systemSet, rolloutSystems);
            console.MarkupLine(Markup.Escape($"rollout over {rolloutSystems.Length} test systems: MSE@100 {SampleOptions.Format(rollout.Mse100)}, " +
                $"MSE@{systemSet.Steps} {SampleOptions.Format(rollout.MseAll)}, relative energy drift {SampleOptions.Format(rollout.EnergyDrift)}"));

            // ----- model.zip: save, reload in a fresh context, predict one trajectory through a PredictionEngine -----
            string modelPath = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, train.Schema, modelPath);
            var fresh = new MLContext(seed);
            var loaded = fresh.Model.Load(modelPath, out _);
            var engine = fresh.Model.CreatePredictionEngine<SpringsExample, TrajectoryPrediction>(loaded, inputSchemaDefinition: schema);
            var example = test[0];
            var reloaded = engine.Predict(example).PredictedTrajectory;
            var original = model.PredictTrajectory(example.InitialState, example.SystemParameters, example.Times);
            bool identical = reloaded.AsSpan().SequenceEqual(original);
            console.MarkupLine(Markup.Escape($"saved {modelPath}; reloaded prediction identical: {identical}"));
            (loaded as IDisposable)?.Dispose();

            // ----- Plots -----
            string curve = Path.Combine(folder, "training-curve.png");
            report.PlotCurves(curve, $"springs {spec.Network}");
            string trajectories = Path.Combine(folder, "trajectories.png");
            SpringsPlots.TrueVsPredicted(trajectories, $"springs {spec.Network}: true (solid) vs predicted (dashed), 100 steps",
                rollout.Truth, rollout.Prediction, spec.Particles, spec.Dimension, horizon: Math.Min(100, systemSet.Steps));
            console.MarkupLine(Markup.Escape($"plots: {curve}, {trajectories}"));

            var result = new Dictionary<string, object?>
            {
                ["dataset"] = "springs",
                ["network"] = spec.Network.ToString(),
                ["group"] = groupText == "none" ? null : groupText,
                ["k"] = spec.EffectiveChannels,
                ["num_layers"] = spec.EffectiveLayers,
                ["epochs"] = epochs,
                ["batch_size"] = batchSize,
                ["micro_batches"] = microBatches,
                ["lr"] = learningRate,
                ["train_size"] = trainCount,
                ["test_size"] = testCount,
                ["test_mse"] = testMse,
                ["rollout_systems"] = rolloutSystems.Length,
                ["rollout_mse_100"] = rollout.Mse100,
                [$"rollout_mse_{systemSet.Steps}"] = rollout.MseAll,
                ["energy_drift"] = rollout.EnergyDrift,
                ["train_seconds"] = Math.Round(trainSeconds, 2),
                ["reload_identical"] = identical,
                ["model"] = modelPath,
            };
            output.WriteLine(ResultLine.Format(result));
            return identical ? 0 : 1;
        }
        finally
        {
            model.Dispose();
        }
    }

    /// <summary>The rollout figures of some systems, with the first system's true and predicted trajectory for the plot.</summary>
    private sealed record RolloutResult(double Mse100, double MseAll, double EnergyDrift, float[] Truth, float[] Prediction);

    private static RolloutResult Rollout(LieConvDynamicsTransformer model, SpringSystems systems, int[] indices)
    {
        var times = systems.Times.ToArray().Select(t => (float)t).ToArray();
        var initial = indices.Select(i => systems.Trajectory(i)[..systems.StateSize].ToArray().Select(v => (float)v).ToArray()).ToArray();
        var parameters = indices.Select(i => systems.SystemParameters(i).ToArray().Select(v => (float)v).ToArray()).ToArray();
        var predicted = model.PredictTrajectories(initial, parameters, times);
        using var scope = NewDisposeScope();
        long b = indices.Length, t = systems.Steps, size = systems.StateSize;
        var prediction = tensor(predicted.SelectMany(p => p).ToArray(), [b, t, size]).to(ScalarType.Float64);
        var truth = tensor(indices.SelectMany(i => systems.Trajectory(i).ToArray()).ToArray(), [b, t, size]);
        var sysP = tensor(indices.SelectMany(i => systems.SystemParameters(i).ToArray()).ToArray(), [b, systems.Particles, 2]);
        var masses = sysP.select(-1, 0).unsqueeze(1);
        var springs = sysP.select(-1, 1).unsqueeze(1);
        double mse100 = DynamicsMetrics.RolloutMeanSquaredError(prediction, truth, Math.Min(100, t)).item<double>();
        double mseAll = DynamicsMetrics.RolloutMeanSquaredError(prediction, truth, t).item<double>();
        double drift = DynamicsMetrics.RelativeEnergyDrift(prediction, z => SpringHamiltonian.Energy(z, masses, springs)).item<double>();
        return new RolloutResult(mse100, mseAll, drift, truth[0].to(ScalarType.Float32).data<float>().ToArray(), predicted[0]);
    }
}
