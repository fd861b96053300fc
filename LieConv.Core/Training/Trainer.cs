using System.Diagnostics;
using System.Text;
using LieConv.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Training;

/// <summary>
/// The training loop of oil's Trainer (reference §5.1): Adam with a per-iteration learning-rate schedule, optional
/// validation after every epoch, best-weight selection by a validation metric, optional early stopping, an atomic
/// checkpoint after every epoch that a later <see cref="Resume"/> continues from, cancellation and progress reports.
/// </summary>
/// <remarks>
/// <para>The trainer moves the model to <see cref="TrainerOptions.Device"/> (the CPU by default) when it is built and
/// creates the optimiser for the moved parameters; the batch sources must produce batches on that device.</para>
/// <para>Each batch runs in its own dispose scope, after which the objects no scope tracks are finalized
/// (<see cref="TorchRuntime.FreeUnscopedObjects"/>: left to the garbage collector, they fragment the C heap step by
/// step); the loss is read back to the host only for a progress report, so a step otherwise never waits for the
/// device. A trainer runs once (one <see cref="Fit"/> or <see cref="Resume"/>); dispose it afterwards to free the
/// optimiser state (the model stays the caller's).</para>
/// <para>On return the model holds the best epoch's weights when a selection metric is set and
/// <see cref="TrainerOptions.RestoreBestWeights"/> is on, otherwise the last epoch's; it is left in training mode.</para>
/// <para>Unlike oil, validation (and with it best-weight selection) happens after every epoch rather than whenever the
/// timed logger fires, so the selection does not depend on wall-clock speed; ties keep the earlier epoch.</para>
/// </remarks>
/// <typeparam name="TBatch">What a batch source yields and the forward function consumes.</typeparam>
public sealed class Trainer<TBatch> : IDisposable
{
    private readonly Func<TBatch, BatchOutput> forward;
    private readonly Func<TBatch, BatchOutput, long> batchSize;
    private readonly ILearningRateSchedule schedule;
    private readonly MetricDirection selectionDirection;
    private readonly Adam optimizer;
    private bool started;
    private bool disposed;

    /// <summary>Sets up a run; nothing is trained until <see cref="Fit"/> or <see cref="Resume"/>.</summary>
    /// <param name="model">The network; moved to the options' device here.</param>
    /// <param name="forward">Runs the model on a batch and returns its prediction and the 0-dimensional loss.</param>
    /// <param name="training">The training batches (shuffled by the source, see <see cref="IBatchSource{TBatch}"/>).</param>
    /// <param name="options">Epochs, learning rate, schedule, selection, checkpoints, device.</param>
    /// <param name="validation">Evaluated after every epoch in eval mode without gradients, if given.</param>
    /// <param name="metrics">The validation metrics (at least one when there is a validation source); names must be unique.</param>
    /// <param name="batchSize">The number of samples in a batch, for weighting metrics and throughput; by default the first dimension of the prediction.</param>
    /// <exception cref="ArgumentException">The options are inconsistent (e.g. a selection metric that no metric provides).</exception>
    public Trainer(
        nn.Module model,
        Func<TBatch, BatchOutput> forward,
        IBatchSource<TBatch> training,
        TrainerOptions options,
        IBatchSource<TBatch>? validation = null,
        IEnumerable<TrainingMetric<TBatch>>? metrics = null,
        Func<TBatch, BatchOutput, long>? batchSize = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var metricList = (metrics ?? []).ToArray();
        if (metricList.Any(m => m is null)) throw new ArgumentException("A metric is null.", nameof(metrics));
        var duplicate = metricList.GroupBy(m => m.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Two metrics are named '{duplicate.Key}'.", nameof(metrics));
        if (validation is not null && metricList.Length == 0)
            throw new ArgumentException("A validation source needs at least one metric (e.g. TrainingMetric<TBatch>.Loss()).", nameof(metrics));
        if (options.SelectionMetric is string selection)
        {
            if (validation is null)
                throw new ArgumentException($"Selecting weights by '{selection}' needs a validation source.", nameof(validation));
            if (!metricList.Any(m => m.Name == selection))
                throw new ArgumentException($"No metric is named '{selection}' (metrics: {string.Join(", ", metricList.Select(m => m.Name))}).", nameof(options));
            selectionDirection = MetricDirections.Resolve(selection, options.SelectionDirection);
        }
        if (training.BatchesPerEpoch < 1) throw new ArgumentException("The training source must yield at least one batch per epoch.", nameof(training));
        if (options.MicroBatches > 1)
        {
            if (!typeof(ISliceableBatch<TBatch>).IsAssignableFrom(typeof(TBatch)))
                throw new ArgumentException(
                    $"Micro-batches ({options.MicroBatches}) need batches that can be sliced, but {typeof(TBatch).Name} does not implement ISliceableBatch<{typeof(TBatch).Name}>.", nameof(options));
            MicroBatching.CheckSamplesIndependent(model, nameof(model));
        }

        Model = model;
        this.forward = forward;
        Training = training;
        Options = options;
        Validation = validation;
        Metrics = metricList;
        this.batchSize = batchSize ?? DefaultBatchSize;
        schedule = options.EffectiveSchedule;
        Device = options.Device ?? CPU;
        CheckpointPath = options.CheckpointDirectory is string folder ? Path.Combine(Path.GetFullPath(folder), TrainingCheckpoint.FileName) : null;

        // Adam's moment buffers are created with the parameters, so the model must be on its device first.
        model.to(Device);
        optimizer = optim.Adam(model.parameters(), options.LearningRate * schedule.FactorAtStep(0, training.BatchesPerEpoch),
            options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
    }

    /// <summary>The network being trained.</summary>
    public nn.Module Model { get; }

    /// <summary>The run's settings.</summary>
    public TrainerOptions Options { get; }

    /// <summary>The training batches.</summary>
    public IBatchSource<TBatch> Training { get; }

    /// <summary>The validation batches, if any.</summary>
    public IBatchSource<TBatch>? Validation { get; }

    /// <summary>The validation metrics.</summary>
    public IReadOnlyList<TrainingMetric<TBatch>> Metrics { get; }

    /// <summary>The device of the model and the batches.</summary>
    public Device Device { get; }

    /// <summary>The checkpoint file, or null when <see cref="TrainerOptions.CheckpointDirectory"/> is not set.</summary>
    public string? CheckpointPath { get; }

    /// <summary>Trains from the start (seeding libtorch first when <see cref="TrainerOptions.Seed"/> is set).</summary>
    /// <param name="progress">Receives step and epoch-end reports synchronously on this thread.</param>
    /// <param name="cancellationToken">Checked before every batch; on cancellation the checkpoint of the last completed epoch stays as it was.</param>
    /// <exception cref="OperationCanceledException">Training was cancelled; <see cref="Resume"/> (on a new trainer) continues from the last checkpoint.</exception>
    public TrainingResult Fit(IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Start();
        if (Options.Seed is long seed) TorchRuntime.SeedEverything(seed);
        var state = new RunState();
        // An epoch-0 checkpoint makes the file describe this run from the start, so cancelling the first epoch
        // cannot leave a previous run's checkpoint behind to be resumed by mistake.
        if (CheckpointPath is not null) WriteCheckpoint(state);
        return Run(state, progress, cancellationToken);
    }

    /// <summary>
    /// Continues the run whose checkpoint is in <see cref="TrainerOptions.CheckpointDirectory"/>: loads weights, Adam
    /// state, position, best weights, patience and the generator state, then trains the remaining epochs. On the CPU
    /// the result is bit-for-bit that of an uninterrupted run (given the same thread count).
    /// </summary>
    /// <exception cref="InvalidOperationException">No checkpoint folder is set, or the checkpoint belongs to a run with other epochs, batches per epoch or learning rate.</exception>
    /// <exception cref="FileNotFoundException">There is no checkpoint yet.</exception>
    /// <exception cref="CheckpointException">The checkpoint is truncated, altered or does not fit the model.</exception>
    public TrainingResult Resume(IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        string path = CheckpointPath ?? throw new InvalidOperationException("Resume needs TrainerOptions.CheckpointDirectory.");
        Start();
        var checkpoint = TrainingCheckpoint.Read(path);
        if (checkpoint.Epochs != Options.Epochs || checkpoint.BatchesPerEpoch != Training.BatchesPerEpoch || checkpoint.LearningRate != Options.LearningRate)
            throw new InvalidOperationException(
                $"Checkpoint '{path}' belongs to another run ({checkpoint.Epochs} epochs of {checkpoint.BatchesPerEpoch} batches at learning rate {checkpoint.LearningRate}); " +
                $"this trainer plans {Options.Epochs} epochs of {Training.BatchesPerEpoch} batches at {Options.LearningRate}.");
        LoadModel(checkpoint.ModelWeights, path);
        try
        {
            using var reader = new BinaryReader(new MemoryStream(checkpoint.OptimizerState), Encoding.UTF8);
            optimizer.load_state_dict(reader);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidOperationException)
        {
            throw new CheckpointException(path, $"holds optimiser state that does not fit this model ({e.Message}).", e);
        }
        using (var rng = tensor(checkpoint.RngState, dtype: ScalarType.Byte)) random.set_rng_state(rng);
        return Run(RunState.From(checkpoint), progress, cancellationToken);
    }

    /// <summary>
    /// The metrics over all batches of <paramref name="source"/> in eval mode without gradients, each batch weighted by
    /// its actual size (see <see cref="MetricAverager"/>). The model's training/eval mode is restored afterwards.
    /// </summary>
    /// <param name="source">The batches.</param>
    /// <param name="epoch">The epoch passed to <see cref="IBatchSource{TBatch}.Batches"/>.</param>
    /// <param name="cancellationToken">Checked before every batch.</param>
    public IReadOnlyDictionary<string, double> Evaluate(IBatchSource<TBatch> source, int epoch = 0, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(source);
        bool wasTraining = Model.training;
        Model.eval();
        try
        {
            using var noGrad = no_grad();
            using var averager = new MetricAverager();
            int batches = 0;
            using var enumerator = source.Batches(epoch).GetEnumerator();
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using (TorchRuntime.EnterComputation())
                using (var scope = NewDisposeScope())
                {
                    if (!enumerator.MoveNext()) break;
                    var batch = enumerator.Current;
                    var output = forward(batch);
                    long n = batchSize(batch, output);
                    foreach (var metric in Metrics) averager.Add(metric.Name, metric.Compute(batch, output), n);
                    batches++;
                }
                TorchRuntime.FreeUnscopedObjects();
            }
            if (batches == 0) throw new InvalidOperationException($"The evaluation source yielded no batches for epoch {epoch}.");
            return averager.Averages();
        }
        finally
        {
            Model.train(wasTraining);
        }
    }

    /// <summary>Frees the optimiser state. The model is not disposed.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        optimizer.Dispose();
    }

    private void Start()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (started) throw new InvalidOperationException("A trainer runs once; create a new trainer to train again or to resume.");
        started = true;
    }

    private TrainingResult Run(RunState state, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        int stepsPerEpoch = Training.BatchesPerEpoch;
        var session = new Session(state.GlobalStep, (long)Options.Epochs * stepsPerEpoch);
        while (state.CompletedEpochs < Options.Epochs && !state.StoppedEarly)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int epoch = state.CompletedEpochs;
            var epochClock = Stopwatch.StartNew();
            var totals = TrainEpoch(epoch, stepsPerEpoch, state, session, progress, cancellationToken);

            IReadOnlyDictionary<string, double> validation = new Dictionary<string, double>();
            if (Validation is not null) validation = Evaluate(Validation, epoch, cancellationToken);
            bool improved = UpdateSelection(state, epoch, validation);

            state.History.Add(new EpochSummary(epoch, totals.MeanLoss, totals.LastLearningRate, validation, improved, epochClock.Elapsed));
            state.CompletedEpochs++;
            if (!improved && Options.Patience is int patience && state.EpochsSinceImprovement >= patience && state.CompletedEpochs < Options.Epochs)
                state.StoppedEarly = true;
            if (CheckpointPath is not null) WriteCheckpoint(state);

            // Reported after the checkpoint, so a consumer that cancels here loses nothing of this epoch.
            progress?.Report(new TrainingProgress(ProgressKind.EpochEnd, epoch, Options.Epochs, stepsPerEpoch, stepsPerEpoch, state.GlobalStep,
                totals.MeanLoss, CurrentLearningRate(state.GlobalStep, stepsPerEpoch), validation, state.BestEpoch,
                totals.Samples / Math.Max(totals.TrainingTime.TotalSeconds, 1e-9), session.Elapsed, session.Remaining(state.GlobalStep)));
        }

        bool restored = false;
        if (Options.RestoreBestWeights && state.BestWeights is not null)
        {
            LoadModel(state.BestWeights, "(best weights in memory)");
            restored = true;
        }
        return new TrainingResult(state.CompletedEpochs, state.GlobalStep, state.History.ToArray(), state.BestEpoch, state.BestValue,
            state.StoppedEarly, restored);
    }

    private EpochTotals TrainEpoch(int epoch, int stepsPerEpoch, RunState state, Session session, IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        Model.train();
        // Running sums stay on the device: adding a step's loss does not wait for it.
        using var epochLoss = zeros(Array.Empty<long>(), ScalarType.Float64, Device).DetachFromDisposeScope();
        using var windowLoss = zeros(Array.Empty<long>(), ScalarType.Float64, Device).DetachFromDisposeScope();
        int step = 0, windowSteps = 0;
        long windowSamples = 0, epochSamples = 0;
        double learningRate = 0;
        var epochClock = Stopwatch.StartNew();
        var windowClock = Stopwatch.StartNew();

        using var batches = Training.Batches(epoch).GetEnumerator();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            TrainingProgress? report = null;
            using (TorchRuntime.EnterComputation())
            using (var scope = NewDisposeScope())
            {
                if (!batches.MoveNext()) break;
                if (step == stepsPerEpoch)
                    throw new InvalidOperationException($"The training source yielded more than its BatchesPerEpoch ({stepsPerEpoch}) batches in epoch {epoch}.");
                var batch = batches.Current;

                learningRate = Options.LearningRate * schedule.FactorAtStep(state.GlobalStep, stepsPerEpoch);
                foreach (var group in optimizer.ParamGroups) group.LearningRate = learningRate;
                optimizer.zero_grad();
                BatchOutput output;
                if (Options.MicroBatches > 1)
                    output = MicroBatching.Run((ISliceableBatch<TBatch>)batch!, Options.MicroBatches, forward);
                else
                {
                    output = forward(batch);
                    CustomBackward.Call(() => output.Loss.backward());
                }
                optimizer.step();

                var loss = output.Loss.detach();
                epochLoss.add_(loss);
                windowLoss.add_(loss);
                long n = batchSize(batch, output);
                step++;
                state.GlobalStep++;
                windowSteps++;
                windowSamples += n;
                epochSamples += n;

                bool due = Options.ReportEvery > 0 && (state.GlobalStep == session.FirstStep + 1 || state.GlobalStep % Options.ReportEvery == 0);
                if (progress is not null && due)
                {
                    double meanLoss = windowLoss.item<double>() / windowSteps;     // the only host sync of a step
                    windowLoss.zero_();
                    double seconds = Math.Max(windowClock.Elapsed.TotalSeconds, 1e-9);
                    report = new TrainingProgress(ProgressKind.Step, epoch, Options.Epochs, step, stepsPerEpoch, state.GlobalStep,
                        meanLoss, learningRate, null, state.BestEpoch, windowSamples / seconds, session.Elapsed, session.Remaining(state.GlobalStep));
                    windowSteps = 0;
                    windowSamples = 0;
                    windowClock.Restart();
                }
            }
            // Before the next batch allocates: the step's scalars would otherwise fragment the heap (see the method).
            TorchRuntime.FreeUnscopedObjects();
            // Outside the batch's scope, so tensors a handler creates are not freed under it.
            if (report is not null) progress!.Report(report);
        }
        if (step != stepsPerEpoch)
            throw new InvalidOperationException($"The training source yielded {step} batches in epoch {epoch} but declares BatchesPerEpoch = {stepsPerEpoch}.");
        return new EpochTotals(epochLoss.item<double>() / stepsPerEpoch, learningRate, epochSamples, epochClock.Elapsed);
    }

    private bool UpdateSelection(RunState state, int epoch, IReadOnlyDictionary<string, double> validation)
    {
        if (Options.SelectionMetric is not string name) return false;
        double value = validation[name];
        bool better = !double.IsNaN(value) && (state.BestValue is not double best
            || (selectionDirection == MetricDirection.Minimize ? value < best : value > best));
        if (better)
        {
            state.BestValue = value;
            state.BestEpoch = epoch;
            state.BestWeights = SerializeModel();
            state.EpochsSinceImprovement = 0;
        }
        else
        {
            state.EpochsSinceImprovement++;
        }
        return better;
    }

    private double CurrentLearningRate(long globalStep, int stepsPerEpoch) =>
        Options.LearningRate * schedule.FactorAtStep(globalStep, stepsPerEpoch);

    private void WriteCheckpoint(RunState state)
    {
        byte[] rng;
        using (var rngState = random.get_rng_state()) rng = rngState.data<byte>().ToArray();
        byte[] optimizerState;
        using (var memory = new MemoryStream())
        {
            using (var writer = new BinaryWriter(memory, Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
            optimizerState = memory.ToArray();
        }
        new TrainingCheckpoint
        {
            Epochs = Options.Epochs,
            BatchesPerEpoch = Training.BatchesPerEpoch,
            LearningRate = Options.LearningRate,
            CompletedEpochs = state.CompletedEpochs,
            GlobalStep = state.GlobalStep,
            BestEpoch = state.BestEpoch,
            BestValue = state.BestValue,
            EpochsSinceImprovement = state.EpochsSinceImprovement,
            StoppedEarly = state.StoppedEarly,
            History = state.History.ToArray(),
            RngState = rng,
            ModelWeights = SerializeModel(),
            OptimizerState = optimizerState,
            BestWeights = state.BestWeights,
        }.Write(CheckpointPath!);
    }

    private byte[] SerializeModel()
    {
        // Saving copies device tensors to the host; the scope frees those copies.
        using var scope = NewDisposeScope();
        using var memory = new MemoryStream();
        // Our own writer: Module.save(Stream) would dispose the writer it creates, and with it the stream.
        using (var writer = new BinaryWriter(memory, Encoding.UTF8, leaveOpen: true)) Model.save(writer);
        return memory.ToArray();
    }

    private void LoadModel(byte[] weights, string source)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(weights), Encoding.UTF8);
            Model.load(reader, strict: true);
        }
        catch (Exception e) when (e is not OutOfMemoryException)   // whatever TorchSharp throws for foreign weights
        {
            throw new CheckpointException(source, $"holds weights that do not fit this model ({e.Message}).", e);
        }
    }

    private static long DefaultBatchSize(TBatch batch, BatchOutput output) =>
        output.Prediction.dim() == 0 ? 1 : output.Prediction.shape[0];

    private readonly record struct EpochTotals(double MeanLoss, double LastLearningRate, long Samples, TimeSpan TrainingTime);

    /// <summary>Wall-clock pace of this session (a resume starts a new one).</summary>
    private sealed class Session(long firstStep, long totalSteps)
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();

        public long FirstStep { get; } = firstStep;

        public TimeSpan Elapsed => clock.Elapsed;

        public TimeSpan? Remaining(long globalStep)
        {
            long done = globalStep - FirstStep;
            if (done <= 0) return null;
            return TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / done * Math.Max(totalSteps - globalStep, 0));
        }
    }

    /// <summary>The mutable position of a run: what a checkpoint stores besides tensors.</summary>
    private sealed class RunState
    {
        public int CompletedEpochs { get; set; }
        public long GlobalStep { get; set; }
        public int? BestEpoch { get; set; }
        public double? BestValue { get; set; }
        public byte[]? BestWeights { get; set; }
        public int EpochsSinceImprovement { get; set; }
        public bool StoppedEarly { get; set; }
        public List<EpochSummary> History { get; } = new();

        public static RunState From(TrainingCheckpoint checkpoint)
        {
            var state = new RunState
            {
                CompletedEpochs = checkpoint.CompletedEpochs,
                GlobalStep = checkpoint.GlobalStep,
                BestEpoch = checkpoint.BestEpoch,
                BestValue = checkpoint.BestValue,
                BestWeights = checkpoint.BestWeights,
                EpochsSinceImprovement = checkpoint.EpochsSinceImprovement,
                StoppedEarly = checkpoint.StoppedEarly,
            };
            state.History.AddRange(checkpoint.History);
            return state;
        }
    }
}
