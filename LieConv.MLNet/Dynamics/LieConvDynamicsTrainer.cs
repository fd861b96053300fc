using LieConv.MLNet.MlNet;
using LieConv.Models.Dynamics;
using LieConv.Nn;
using LieConv.Runtime;
using LieConv.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace LieConv.MLNet;

/// <summary>
/// Trains a dynamics network — HLieResNet or one of the baselines FC, HFC, FLieResNet, OGN, HOGN, VOGN (reference
/// §3.7, §3.8) — as the original's IntegratedDynamicsTrainer does (§5.2): the prediction is the RK4 (3/8 rule)
/// integration of the network's vector field from the initial state over the row's times, and the loss the mean
/// squared error against the true trajectory. Create it with <c>mlContext.Regression.Trainers.LieConvDynamics(...)</c>.
/// </summary>
/// <remarks>
/// <para>Rows hold one system each: <c>InitialState</c> (2·n·d: all positions particle-major, then all momenta),
/// <c>SystemParameters</c> (n·sys_dim, mass first), <c>Times</c> (T, strictly increasing) and, for training, the label
/// <c>Trajectory</c> (T·2·n·d, the states at those times) — the layout of <c>LieConv.Datasets.Springs.SpringsExample</c>.
/// Every training row must have the same T; each batch is integrated on its first row's grid, as in the original
/// (the spring systems are time-invariant, so chunks with equal spacings share one grid).</para>
/// <para>The fitted <see cref="LieConvDynamicsTransformer"/> adds <c>PredictedTrajectory</c> (T·2·n·d).</para>
/// </remarks>
public sealed class LieConvDynamicsTrainer : IEstimator<LieConvDynamicsTransformer>
{
    /// <summary>Settings of <see cref="LieConvDynamicsTrainer"/>; the training defaults are train_springs' (2 epochs, batch 200, lr 1e-2).</summary>
    public sealed class Options : LieConvTrainingOptionsBase
    {
        /// <summary>Sets the train_springs defaults (reference §5.3).</summary>
        public Options()
        {
            Epochs = 2;
            BatchSize = 200;
            LearningRate = 1e-2;
        }

        // ----- Columns -----

        /// <summary>The initial-state column z₀ (2·n·d Singles).</summary>
        public string InitialStateColumnName = "InitialState";

        /// <summary>The per-particle parameters column (n·sys_dim Singles, the mass first).</summary>
        public string SystemParametersColumnName = "SystemParameters";

        /// <summary>The time-grid column (T Singles, strictly increasing).</summary>
        public string TimesColumnName = "Times";

        /// <summary>The label: the true states at the grid times (T·2·n·d Singles).</summary>
        public string LabelColumnName = "Trajectory";

        /// <summary>The output column of the predicted states at the grid times (T·2·n·d Singles).</summary>
        public string PredictedTrajectoryColumnName = "PredictedTrajectory";

        // ----- Network (reference §3.7, §3.8) -----

        /// <summary>The network by the original's name: FC (default, as train_springs), HFC, HLieResNet, FLieResNet, OGN, HOGN or VOGN.</summary>
        public string Network = nameof(DynamicsNetworkKind.FC);

        /// <summary>Particles per system n; <see langword="null"/> takes it from the system-parameters column (its size, or the first row's length, ÷ sys_dim).</summary>
        public int? Particles;

        /// <summary>Space dimension d.</summary>
        public int Dimension = 2;

        /// <summary>Parameters per particle sys_dim (the first is the mass, which the known kinetic energy uses).</summary>
        public int SystemDimension = 2;

        /// <summary>Width k; <see langword="null"/> takes the network's default (FC 300, HFC 150, LieResNets 384, graph networks 64).</summary>
        public int? Channels;

        /// <summary>Layers; <see langword="null"/> takes the network's default (4; graph networks 1).</summary>
        public int? Layers;

        /// <summary>The LieResNets' group: T(2) (default), Trivial(2), SO2, …</summary>
        public string Group = "T(2)";

        /// <summary>The LieResNets' neighbourhood size.</summary>
        public long Neighbourhood = 100;

        /// <summary>The LieResNets' ball fill fraction.</summary>
        public double Fill = 1.0;

        /// <summary>k-nearest-neighbour neighbourhoods in the LieResNets.</summary>
        public bool Knn;

        /// <summary>Masked batch norm in the LieResNets (off in the original's HLieResNet).</summary>
        public bool BatchNorm;

        /// <summary>Subtract the particles' plain mean position before the network sees positions.</summary>
        public bool Center = true;

        /// <summary>The nonlinearity.</summary>
        public Activation Activation = Activation.Swish;

        // ----- Memory -----

        /// <summary>
        /// Run every training batch in this many micro-batches, forward and backward one after the other, before the
        /// optimiser step: the same gradients (the loss is a mean over the systems) with a fraction of the memory —
        /// the Hamiltonian networks keep the graphs of every field evaluation for the loss's second differentiation,
        /// so an HLieResNet step on 200 systems holds about 1.5 GB at once, half of it in two micro-batches. Needs
        /// <see cref="BatchNorm"/> off (batch statistics would become each micro-batch's).
        /// </summary>
        public int MicroBatches = 1;
    }

    internal const string LoadName = "LieConvDynamics";

    /// <summary>
    /// The validation metrics, usable as <see cref="LieConvTrainingOptionsBase.EarlyStoppingMetric"/>: "MSE", the mean
    /// squared error of the integrated trajectories (minimised; the original's val_MSE, which is also the training loss).
    /// </summary>
    public static IReadOnlyList<string> MetricNames { get; } = [IntegratedDynamics.MseMetric];

    private readonly IHost _host;
    private readonly Options _options;

    internal LieConvDynamicsTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        _host = env.Register(LoadName);
        _options = options;
        CheckOptions();
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        SchemaChecks.SingleVector(_host, inputSchema, _options.InitialStateColumnName, "initial state");
        SchemaChecks.SingleVector(_host, inputSchema, _options.SystemParametersColumnName, "system parameters");
        var times = SchemaChecks.SingleVector(_host, inputSchema, _options.TimesColumnName, "times");
        SchemaChecks.SingleVector(_host, inputSchema, _options.LabelColumnName, "trajectory");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[_options.PredictedTrajectoryColumnName] = new SchemaShape.Column(_options.PredictedTrajectoryColumnName, times.Kind,
            NumberDataViewType.Single, false);
        return new SchemaShape(columns.Values);
    }

    /// <summary>Trains the network on <paramref name="input"/> and returns the fitted transformer.</summary>
    /// <param name="input">Rows with the initial state, system parameters, times and trajectory columns named in the options.</param>
    /// <exception cref="InvalidOperationException">A column is missing or has the wrong type, or there are no rows.</exception>
    /// <exception cref="InvalidDataException">A row is malformed: wrong vector length, a non-finite value, a non-positive mass, times that do not increase.</exception>
    public LieConvDynamicsTransformer Fit(IDataView input)
    {
        _host.CheckValue(input, nameof(input));
        GetOutputSchema(SchemaShape.Create(input.Schema));
        var columns = new DynamicsColumns(_options.InitialStateColumnName, _options.SystemParametersColumnName, _options.TimesColumnName, _options.LabelColumnName);
        int particles = _options.Particles ?? DynamicsRows.InferParticles(_host, input, _options.SystemParametersColumnName, _options.SystemDimension);
        var spec = Spec(particles);
        var rows = DynamicsRows.ReadAll(_host, input, columns, spec, "training");
        var validation = _options.ValidationSet is { } v ? DynamicsRows.ReadAll(_host, v, columns, spec, "validation") : null;

        int seed = LieConvTraining.SeedAndThreads(_host, _options);
        var device = LieConvFitting.ResolveDevice(_host, _options.Device);
        TorchRuntime.SeedEverything(seed);
        var model = spec.Create();
        try
        {
            Train(model, spec, rows, validation, seed, device);
            model.eval();
            return new LieConvDynamicsTransformer(_host, model, device,
                new DynamicsColumns(_options.InitialStateColumnName, _options.SystemParametersColumnName, _options.TimesColumnName, null),
                _options.PredictedTrajectoryColumnName);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private void Train(DynamicsNetwork model, DynamicsNetworkOptions spec, List<DynamicsRow> rows, List<DynamicsRow>? validation, int seed, Device device)
    {
        using var ch = _host.Start("Training");
        ch.Info("LieConv dynamics: {0} (k {1}, {2} layers{3}), n = {4}, {5} training systems{6}, {7} parameters, on {8}.",
            spec.Network, spec.EffectiveChannels, spec.EffectiveLayers,
            spec.Network is DynamicsNetworkKind.HLieResNet or DynamicsNetworkKind.FLieResNet ? $", {spec.Group}" : "",
            spec.Particles, rows.Count, validation is null ? "" : $", {validation.Count} validation systems",
            model.parameters().Sum(p => p.numel()), device);
        MklKernelsNote.Report(ch, device);
        var metrics = validation is null ? null : IntegratedDynamics.ValidationMetrics;
        using var trainer = new Trainer<DynamicsBatch>(model,
            b =>
            {
                _host.CheckAlive();
                return IntegratedDynamics.Forward(model, b);
            },
            new ShuffledSystems(rows, _options.BatchSize, seed, spec, device),
            LieConvTraining.TrainerOptions(_options, device, seed) with { MicroBatches = _options.MicroBatches },
            validation is null ? null : new ShuffledSystems(validation, _options.BatchSize, null, spec, device),
            metrics);
        LieConvTraining.Run(ch, trainer, _options, "systems");
    }

    private DynamicsNetworkOptions Spec(int particles)
    {
        DynamicsNetworkKind kind;
        try
        {
            kind = DynamicsNetworkOptions.ParseNetwork(_options.Network);
        }
        catch (ArgumentException e)
        {
            throw _host.ExceptUserArg(nameof(Options.Network), e.Message);
        }
        var spec = new DynamicsNetworkOptions
        {
            Network = kind,
            Particles = particles,
            Dimension = _options.Dimension,
            SystemDimension = _options.SystemDimension,
            Channels = _options.Channels,
            Layers = _options.Layers,
            Group = _options.Group,
            Neighbourhood = _options.Neighbourhood,
            Fill = _options.Fill,
            Knn = _options.Knn,
            BatchNorm = _options.BatchNorm,
            Center = _options.Center,
            Activation = _options.Activation,
        };
        try
        {
            spec.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw _host.ExceptUserArg(e.ParamName ?? nameof(Options.Network), e.Message);
        }
        return spec;
    }

    private void CheckOptions()
    {
        var o = _options;
        foreach (var (name, value) in new[]
        {
            (nameof(o.InitialStateColumnName), o.InitialStateColumnName), (nameof(o.SystemParametersColumnName), o.SystemParametersColumnName),
            (nameof(o.TimesColumnName), o.TimesColumnName), (nameof(o.LabelColumnName), o.LabelColumnName),
            (nameof(o.PredictedTrajectoryColumnName), o.PredictedTrajectoryColumnName),
        })
            _host.CheckUserArg(!string.IsNullOrEmpty(value), name);
        _host.CheckUserArg(!string.IsNullOrWhiteSpace(o.Network), nameof(o.Network), "A network name such as \"HLieResNet\" is needed.");
        // The network itself (name, group, sizes) is checked against n once n is known (Fit); here what needs no data.
        try
        {
            DynamicsNetworkOptions.ParseNetwork(o.Network);
        }
        catch (ArgumentException e)
        {
            throw _host.ExceptUserArg(nameof(o.Network), e.Message);
        }
        _host.CheckUserArg(o.Particles is null or >= 1, nameof(o.Particles), "At least one particle is needed.");
        _host.CheckUserArg(o.Dimension >= 1, nameof(o.Dimension), "d must be at least 1.");
        _host.CheckUserArg(o.SystemDimension >= 1, nameof(o.SystemDimension), "At least the mass is needed per particle.");
        _host.CheckUserArg(o.Channels is null or >= 1, nameof(o.Channels), "The width must be at least 1.");
        _host.CheckUserArg(o.Layers is null or >= 1, nameof(o.Layers), "At least one layer is needed.");
        _host.CheckUserArg(o.MicroBatches >= 1, nameof(o.MicroBatches), "At least one micro-batch is needed.");
        _host.CheckUserArg(o.MicroBatches == 1 || !o.BatchNorm, nameof(o.MicroBatches),
            "Micro-batches need BatchNorm off: batch norm's statistics would be each micro-batch's instead of the batch's.");
        LieConvTraining.CheckOptions(_host, o, MetricNames, "system");
    }

    /// <summary>Batches of systems, in a new order every epoch when a seed is given (a function of (seed, epoch) only).</summary>
    private sealed class ShuffledSystems(List<DynamicsRow> rows, int batchSize, int? seed, DynamicsNetworkOptions spec, Device device)
        : IBatchSource<DynamicsBatch>
    {
        public int BatchesPerEpoch => (rows.Count + batchSize - 1) / batchSize;

        public IEnumerable<DynamicsBatch> Batches(int epoch)
        {
            var order = Enumerable.Range(0, rows.Count).ToArray();
            if (seed is int s) TorchRuntime.CreateRandom(s, $"shuffle{epoch}").Shuffle(order);
            for (int start = 0; start < order.Length; start += batchSize)
                yield return DynamicsRows.Collate(order.Skip(start).Take(batchSize).Select(i => rows[i]).ToArray(), spec, device);
        }
    }
}
