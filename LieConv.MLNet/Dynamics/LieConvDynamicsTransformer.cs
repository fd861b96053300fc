using LieConv.MLNet;
using LieConv.MLNet.MlNet;
using LieConv.Models.Dynamics;
using LieConv.Runtime;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(LieConvDynamicsTransformer), null, typeof(SignatureLoadModel),
    "LieConv Dynamics Transformer", LieConvDynamicsTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(LieConvDynamicsTransformer), null, typeof(SignatureLoadRowMapper),
    "LieConv Dynamics Transformer", LieConvDynamicsTransformer.LoaderSignature)]

namespace LieConv.MLNet;

/// <summary>
/// A trained dynamics network: adds <c>PredictedTrajectory</c> (T·2·n·d Singles), the states at the row's times
/// obtained by integrating the network's vector field (RK4, 3/8 rule, one step per interval) from the row's initial
/// state with its system parameters. Saved and loaded by <c>mlContext.Model</c> (spec as JSON plus SHA-256-checked
/// weights); works with <c>PredictionEngine</c>.
/// </summary>
/// <remarks>
/// <c>Transform</c> is lazy: keep the transformer undisposed while views it produced are read. Rows are integrated one
/// at a time, each on its own time grid; a bad row (wrong lengths, non-finite values, non-positive masses, times that
/// do not increase) throws an <see cref="InvalidDataException"/> naming the column and row. <c>Transform</c> may run
/// rows on ML.NET's worker threads, whose libtorch (OpenMP) thread count is their own, so its results can differ from
/// <c>PredictionEngine</c> or <see cref="PredictTrajectory"/> on the calling thread in the last float32 bits.
/// </remarks>
public sealed class LieConvDynamicsTransformer : RowMapperTransformerBase, IDisposable
{
    internal const string LoaderSignature = "LieConvDynamicsXf";

    private readonly DynamicsNetwork _model;
    private readonly Device _device;
    private readonly DynamicsColumns _columns;
    private readonly object _forwardLock = new();
    private bool _disposed;

    internal LieConvDynamicsTransformer(IHostEnvironment env, DynamicsNetwork model, Device device, DynamicsColumns columns, string outputColumn)
        : base(env, nameof(LieConvDynamicsTransformer))
    {
        _model = model;
        _device = device;
        _columns = columns;
        PredictedTrajectoryColumnName = outputColumn;
        _model.to(device);
        _model.eval();
    }

    /// <summary>The initial-state column read.</summary>
    public string InitialStateColumnName => _columns.InitialState;

    /// <summary>The system-parameters column read.</summary>
    public string SystemParametersColumnName => _columns.SystemParameters;

    /// <summary>The time-grid column read.</summary>
    public string TimesColumnName => _columns.Times;

    /// <summary>The predicted-trajectory column written.</summary>
    public string PredictedTrajectoryColumnName { get; }

    /// <summary>The architecture of the trained network.</summary>
    public DynamicsNetworkOptions NetworkOptions => _model.Options;

    /// <summary>The device the network runs on: the training device after <c>Fit</c>; after loading, the MLContext's GPU if set, else the CPU.</summary>
    public string Device => _device.ToString();

    /// <summary>
    /// Integrates the network from one system's initial state over <paramref name="times"/>, without ML.NET rows.
    /// </summary>
    /// <param name="initialState">z₀, 2·n·d values.</param>
    /// <param name="systemParameters">n·sys_dim values, the mass first per particle.</param>
    /// <param name="times">T strictly increasing times.</param>
    /// <returns>The T·2·n·d predicted states, row-major (T, 2nd).</returns>
    /// <exception cref="InvalidDataException">An input has the wrong length or bad values.</exception>
    public float[] PredictTrajectory(float[] initialState, float[] systemParameters, float[] times)
    {
        ArgumentNullException.ThrowIfNull(initialState);
        ArgumentNullException.ThrowIfNull(systemParameters);
        ArgumentNullException.ThrowIfNull(times);
        DynamicsRows.Check(_columns, 0, _model.Options, initialState, systemParameters, times, default, hasTrajectory: false);
        return Integrate(initialState, systemParameters, times);
    }

    /// <summary>
    /// Integrates many systems at once on one time grid (one batched integration instead of one per row), without
    /// ML.NET rows: e.g. long rollouts of a whole test set.
    /// </summary>
    /// <param name="initialStates">B initial states, each 2·n·d values.</param>
    /// <param name="systemParameters">B parameter vectors, each n·sys_dim values, the mass first per particle.</param>
    /// <param name="times">T strictly increasing times, shared by every system.</param>
    /// <returns>One T·2·n·d trajectory per system, row-major (T, 2nd).</returns>
    /// <exception cref="ArgumentException">The two lists differ in length or are empty.</exception>
    /// <exception cref="InvalidDataException">A system has the wrong lengths or bad values (the row named is its index).</exception>
    public float[][] PredictTrajectories(IReadOnlyList<float[]> initialStates, IReadOnlyList<float[]> systemParameters, float[] times)
    {
        ArgumentNullException.ThrowIfNull(initialStates);
        ArgumentNullException.ThrowIfNull(systemParameters);
        ArgumentNullException.ThrowIfNull(times);
        if (initialStates.Count != systemParameters.Count || initialStates.Count == 0)
            throw new ArgumentException($"Give as many parameter vectors ({systemParameters.Count}) as initial states ({initialStates.Count}), at least one.", nameof(systemParameters));
        for (int i = 0; i < initialStates.Count; i++)
            DynamicsRows.Check(_columns, i, _model.Options, initialStates[i], systemParameters[i], times, default, hasTrajectory: false);
        return IntegrateEach(initialStates, systemParameters, times);
    }

    /// <summary>Checked systems on one time grid, integrated together: one trajectory each, row-major (T, 2nd).</summary>
    private float[][] IntegrateEach(IReadOnlyList<float[]> initialStates, IReadOnlyList<float[]> systemParameters, float[] times)
    {
        var flat = Integrate(initialStates.SelectMany(z => z).ToArray(), systemParameters.SelectMany(p => p).ToArray(), times, initialStates.Count);
        int length = times.Length * _model.Options.StateSize;
        return Enumerable.Range(0, initialStates.Count).Select(i => flat.AsSpan(i * length, length).ToArray()).ToArray();
    }

    /// <summary>Frees the network's tensors.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _model.Dispose();
    }

    private protected override IRowMapper MakeMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    /// <summary>Bulk reads of a transformed view integrate its rows in batches of one time grid (<see cref="RowsAhead{TRow}"/>).</summary>
    private protected override IRowMapper MakeMapperReading(IDataView input) => new Mapper(this, input.Schema) { Source = input };

    private protected override void ThrowIfUnusable() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "LIECVDYN",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(LieConvDynamicsTransformer).Assembly.FullName,
        loaderSignature: LoaderSignature);

    internal override void SaveModel(ModelSaveContext ctx)
    {
        Host.CheckValue(ctx, nameof(ctx));
        ObjectDisposedException.ThrowIf(_disposed, this);
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveNonEmptyString(_columns.InitialState);
        ctx.SaveNonEmptyString(_columns.SystemParameters);
        ctx.SaveNonEmptyString(_columns.Times);
        ctx.SaveNonEmptyString(PredictedTrajectoryColumnName);
        // The architecture is not in the weights: the spec, as JSON, rebuilds the network before they are loaded.
        ctx.Writer.Write(_model.Options.ToJson());
        lock (_forwardLock)
            LieConvNetworkSettings.SaveChecksummedWeights(ctx, _model);
    }

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadModel).
    private static LieConvDynamicsTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        env.CheckValue(ctx, nameof(ctx));
        ModelVersions.Check(ctx, GetVersionInfo(), "LieConv dynamics transformer");
        var columns = new DynamicsColumns(ctx.LoadNonEmptyString(), ctx.LoadNonEmptyString(), ctx.LoadNonEmptyString(), null);
        string output = ctx.LoadNonEmptyString();
        DynamicsNetworkOptions spec;
        try
        {
            spec = DynamicsNetworkOptions.FromJson(ctx.Reader.ReadString());
        }
        catch (FormatException e)
        {
            throw new FormatException($"model.zip: the LieConv dynamics transformer's network spec is invalid ({e.Message}).", e);
        }
        var model = spec.Create();
        try
        {
            LieConvNetworkSettings.LoadChecksummedWeights(ctx, model, "dynamics");
            return new LieConvDynamicsTransformer(env, model, env.ResolveContextDevice(), columns, output);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadRowMapper), when a saved
    // RowToRowMapperTransform (a transformed data view) is loaded.
    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => new Mapper(Create(env, ctx), inputSchema);

    /// <summary>How many integrations ran so far (tests tell batched from row-by-row prediction by it).</summary>
    internal long NetworkCalls => Interlocked.Read(ref _networkCalls);

    private long _networkCalls;

    /// <summary>The integration of <paramref name="systems"/> systems on one grid; serialised because the module is shared by parallel cursors.</summary>
    private float[] Integrate(float[] initialState, float[] systemParameters, float[] times, int systems = 1)
    {
        Interlocked.Increment(ref _networkCalls);
        var spec = _model.Options;
        lock (_forwardLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            float[] trajectories;
            using (TorchRuntime.EnterComputation())
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                _model.eval();
                var z0 = tensor(initialState, [systems, spec.StateSize]).to(_device);
                var sysP = tensor(systemParameters, [systems, spec.Particles, spec.SystemDimension]).to(_device);
                var grid = tensor(times, [times.Length]).to(_device);
                trajectories = IntegratedDynamics.Predict(_model, z0, sysP, grid).cpu().data<float>().ToArray();
            }
            TorchRuntime.FreeUnscopedObjects();   // a serving process predicts for days: its C heap must not fragment
            return trajectories;
        }
    }

    /// <summary>One row's checked input: z₀, the system parameters and the time grid.</summary>
    private sealed record SystemInput(float[] InitialState, float[] SystemParameters, float[] Times);

    private sealed class Mapper : IRowMapper
    {
        private readonly LieConvDynamicsTransformer _parent;
        private readonly DataViewSchema.Column _initialState;
        private readonly DataViewSchema.Column _systemParameters;
        private readonly DataViewSchema.Column _times;

        public Mapper(LieConvDynamicsTransformer parent, DataViewSchema inputSchema)
        {
            _parent = parent;
            _initialState = SchemaChecks.SingleVector(parent.Host, inputSchema, parent._columns.InitialState, "initial state");
            _systemParameters = SchemaChecks.SingleVector(parent.Host, inputSchema, parent._columns.SystemParameters, "system parameters");
            _times = SchemaChecks.SingleVector(parent.Host, inputSchema, parent._columns.Times, "times");
        }

        public DataViewSchema.DetachedColumn[] GetOutputColumns()
        {
            int size = _parent._model.Options.StateSize;
            // A fixed-size times column gives a fixed-size output, shaped (T, 2nd); otherwise one of variable T.
            var type = _times.Type is VectorDataViewType { Size: > 0 } fixedTimes
                ? new VectorDataViewType(NumberDataViewType.Single, fixedTimes.Size, size)
                : new VectorDataViewType(NumberDataViewType.Single, 0, size);
            return [new(_parent.PredictedTrajectoryColumnName, type)];
        }

        public Func<int, bool> GetDependencies(Func<int, bool> activeOutput)
        {
            bool active = activeOutput(0);
            return col => active && (col == _initialState.Index || col == _systemParameters.Index || col == _times.Index);
        }

        /// <summary>
        /// The view this mapper's transformed view reads (set by <c>Transform</c>): bulk reads integrate its rows in
        /// batches through a cursor that reads ahead. Null for single-row mapping (a <c>PredictionEngine</c>).
        /// </summary>
        internal IDataView? Source { get; init; }

        public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
        {
            disposer = () => { };
            if (!activeOutput(0)) return new Delegate[1];
            var read = Reader(input);
            var ahead = Source is null ? null : new RowsAhead<SystemInput>(Source, [_initialState, _systemParameters, _times], input, Reader, FitsBatch, Integrate);
            if (ahead is not null) disposer = ahead.Dispose;
            long cachedPosition = -1;
            float[] cached = [];
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> dst) =>
            {
                if (cachedPosition != input.Position)
                {
                    cached = ahead?.Outputs(input.Position) ?? Integrate([read()])[0];
                    cachedPosition = input.Position;
                }
                var editor = VBufferEditor.Create(ref dst, cached.Length);
                cached.AsSpan().CopyTo(editor.Values);
                dst = editor.Commit();
            };
            return [getter];
        }

        /// <summary>Reads and checks the current system of a row (or cursor); the errors name the column and the row.</summary>
        private Func<SystemInput> Reader(DataViewRow row)
        {
            var getters = new[] { _initialState, _systemParameters, _times }.Select(c => row.GetGetter<VBuffer<float>>(c)).ToArray();
            var buffers = new VBuffer<float>[3];
            var spec = _parent._model.Options;
            return () =>
            {
                var arrays = new float[3][];
                for (int i = 0; i < 3; i++)
                {
                    getters[i](ref buffers[i]);
                    arrays[i] = new float[buffers[i].Length];
                    buffers[i].CopyTo(arrays[i]);
                }
                DynamicsRows.Check(_parent._columns, row.Position, spec, arrays[0], arrays[1], arrays[2], default, hasTrajectory: false);
                return new SystemInput(arrays[0], arrays[1], arrays[2]);
            };
        }

        /// <summary>Whether <paramref name="next"/> may join <paramref name="batch"/>: a batch is integrated on one time grid.</summary>
        private static bool FitsBatch(IReadOnlyList<SystemInput> batch, SystemInput next) => next.Times.AsSpan().SequenceEqual(batch[0].Times);

        /// <summary>The trajectories of systems that share their time grid, in one integration.</summary>
        private float[][] Integrate(IReadOnlyList<SystemInput> systems) =>
            _parent.IntegrateEach(systems.Select(s => s.InitialState).ToList(), systems.Select(s => s.SystemParameters).ToList(), systems[0].Times);

        public void Save(ModelSaveContext ctx) => _parent.SaveModel(ctx);

        public ITransformer GetTransformer() => _parent;
    }
}
