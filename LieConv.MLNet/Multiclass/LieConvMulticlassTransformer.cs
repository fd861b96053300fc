using LieConv.MLNet;
using LieConv.Models;
using LieConv.Nn;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(LieConvMulticlassTransformer), null, typeof(SignatureLoadModel),
    "LieConv Multiclass Transformer", LieConvMulticlassTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(LieConvMulticlassTransformer), null, typeof(SignatureLoadRowMapper),
    "LieConv Multiclass Transformer", LieConvMulticlassTransformer.LoaderSignature)]

namespace LieConv.MLNet;

/// <summary>
/// A trained LieConv point-cloud classifier: adds a <c>Score</c> column (per-class probabilities) and a
/// <c>PredictedLabel</c> key column, annotated so that <c>MulticlassClassification.Evaluate</c> and
/// <c>MapKeyToValue</c> work (mlnet-conventions.md §5, §8). Saved and loaded by <c>mlContext.Model</c>.
/// </summary>
/// <remarks>
/// <c>Transform</c> is lazy: keep the transformer undisposed while views it produced are read.
/// Predictions are deterministic because the network draws its samples from a fixed evaluation seed.
/// </remarks>
public sealed class LieConvMulticlassTransformer : ITransformer, ICanSaveModel, IDisposable
{
    internal const string LoaderSignature = "LieConvMulticlassXf";
    private const string WeightsEntry = "TSModel";

    private readonly IHost _host;
    private readonly LieResNet _model;
    private readonly object _forwardLock = new();
    private readonly LabelValues? _labelValues;
    private bool _disposed;

    internal LieConvMulticlassTransformer(IHostEnvironment env, LieResNet model, int channels, int spaceDimension,
        string pointsColumn, string? featuresColumn, string scoreColumn, string predictedLabelColumn, LabelValues? labelValues)
    {
        _host = env.Register(nameof(LieConvMulticlassTransformer));
        _model = model;
        Channels = channels;
        SpaceDimension = spaceDimension;
        PointsColumnName = pointsColumn;
        FeaturesColumnName = featuresColumn;
        ScoreColumnName = scoreColumn;
        PredictedLabelColumnName = predictedLabelColumn;
        _labelValues = labelValues;
        _model.eval();
    }

    /// <summary>The points column read.</summary>
    public string PointsColumnName { get; }

    /// <summary>The per-point features column read, or <see langword="null"/> when every point has the feature 1.</summary>
    public string? FeaturesColumnName { get; }

    /// <summary>The per-class score column written.</summary>
    public string ScoreColumnName { get; }

    /// <summary>The predicted-class key column written.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>The number of classes.</summary>
    public int ClassCount => _model.Options.Outputs;

    /// <summary>The coordinate dimension d the network was trained on.</summary>
    public int SpaceDimension { get; }

    /// <summary>Features per point.</summary>
    public int Channels { get; }

    /// <summary>The architecture of the trained network.</summary>
    public LieResNetOptions NetworkOptions => _model.Options;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        return RowToRowMapperTransform.GetOutputSchema(inputSchema, new Mapper(this, inputSchema));
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        _host.CheckValue(input, nameof(input));
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new RowToRowMapperTransform(_host, input, new Mapper(this, input.Schema), s => new Mapper(this, s));
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new RowToRowMapperTransform(_host, new EmptyDataView(_host, inputSchema), new Mapper(this, inputSchema), s => new Mapper(this, s));
    }

    /// <summary>Frees the network's tensors.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _model.Dispose();
    }

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "LIECVMCL",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(LieConvMulticlassTransformer).Assembly.FullName,
        loaderSignature: LoaderSignature);

    void ICanSaveModel.Save(ModelSaveContext ctx) => SaveModel(ctx);

    private void SaveModel(ModelSaveContext ctx)
    {
        _host.CheckValue(ctx, nameof(ctx));
        ObjectDisposedException.ThrowIf(_disposed, this);
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());

        ctx.SaveNonEmptyString(PointsColumnName);
        ctx.SaveStringOrNull(FeaturesColumnName);
        ctx.SaveNonEmptyString(ScoreColumnName);
        ctx.SaveNonEmptyString(PredictedLabelColumnName);
        ctx.Writer.Write(SpaceDimension);
        ctx.Writer.Write(Channels);

        // The architecture is not in the weights, so every field that shapes the network is written explicitly.
        var o = _model.Options;
        ctx.SaveNonEmptyString(o.Group);
        ctx.Writer.Write(o.InputChannels);
        ctx.Writer.Write(o.Outputs);
        ctx.Writer.Write(o.Channels);
        WriteList(ctx.Writer, o.ChannelsPerStage, (w, v) => w.Write(v));
        ctx.Writer.Write(o.Layers);
        ctx.Writer.Write(o.Neighbourhood);
        ctx.Writer.Write(o.Fill);
        WriteList(ctx.Writer, o.FillPerLayer, (w, v) => w.Write(v));
        ctx.Writer.Write(o.Downsample);
        ctx.Writer.Write((int)o.Activation);
        ctx.Writer.Write(o.BatchNorm);
        ctx.Writer.Write(o.Mean);
        ctx.Writer.Write(o.Pool);
        ctx.Writer.Write(o.LiftSamples);
        ctx.Writer.Write(o.Knn);
        ctx.Writer.Write(o.EvaluationSeed.HasValue);
        ctx.Writer.Write(o.EvaluationSeed ?? 0);

        ctx.Writer.Write(_labelValues is not null);
        _labelValues?.Save(_host, ctx.Writer.BaseStream);

        lock (_forwardLock)
            ctx.SaveBinaryStream(WeightsEntry, w => _model.save(w));
    }

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadModel).
    private static LieConvMulticlassTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        env.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel(GetVersionInfo());

        string points = ctx.LoadNonEmptyString();
        string? features = ctx.LoadStringOrNull();
        string score = ctx.LoadNonEmptyString();
        string predicted = ctx.LoadNonEmptyString();
        int spaceDimension = ctx.Reader.ReadInt32();
        int channels = ctx.Reader.ReadInt32();

        var r = ctx.Reader;
        var spec = new LieResNetOptions
        {
            Group = ctx.LoadNonEmptyString(),
            InputChannels = r.ReadInt32(),
            Outputs = r.ReadInt32(),
            Channels = r.ReadInt32(),
            ChannelsPerStage = ReadList(r, x => x.ReadInt32()),
            Layers = r.ReadInt32(),
            Neighbourhood = r.ReadInt64(),
            Fill = r.ReadDouble(),
            FillPerLayer = ReadList(r, x => x.ReadDouble()),
            Downsample = r.ReadDouble(),
            Activation = (Activation)r.ReadInt32(),
            BatchNorm = r.ReadBoolean(),
            Mean = r.ReadBoolean(),
            Pool = r.ReadBoolean(),
            LiftSamples = r.ReadInt32(),
            Knn = r.ReadBoolean(),
        };
        bool hasEvaluationSeed = r.ReadBoolean();
        long evaluationSeed = r.ReadInt64();
        spec = spec with { EvaluationSeed = hasEvaluationSeed ? evaluationSeed : null };
        try
        {
            spec.Validate();
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"model.zip: the stored LieConv network options are invalid ({e.Message}).", e);
        }
        var labelValues = r.ReadBoolean() ? LabelValues.Load(env, r.BaseStream) : null;

        var model = new LieResNet(spec);
        try
        {
            bool found;
            try
            {
                found = ctx.TryLoadBinaryStream(WeightsEntry, w =>
                {
                    model.load(w, strict: true);
                    // A longer entry than the network reads back is not this network's weights either.
                    if (w.BaseStream.CanSeek && w.BaseStream.Position != w.BaseStream.Length)
                        throw new FormatException($"{w.BaseStream.Length - w.BaseStream.Position} bytes follow the weights.");
                });
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new FormatException(
                    $"model.zip: the '{WeightsEntry}' entry of the LieConv multiclass transformer is truncated or is not the " +
                    $"TorchSharp weights of the stored network ({e.GetType().Name}: {e.Message}).", e);
            }
            if (!found)
                throw new FormatException($"model.zip: the LieConv multiclass transformer has no '{WeightsEntry}' entry (its weights).");
            return new LieConvMulticlassTransformer(env, model, channels, spaceDimension, points, features, score, predicted, labelValues);
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

    private static void WriteList<T>(BinaryWriter writer, IReadOnlyList<T>? list, Action<BinaryWriter, T> write)
    {
        writer.Write(list?.Count ?? -1);
        foreach (var item in list ?? [])
            write(writer, item);
    }

    private static T[]? ReadList<T>(BinaryReader reader, Func<BinaryReader, T> read)
    {
        int count = reader.ReadInt32();
        if (count < -1 || count > 1 << 16)
            throw new FormatException($"model.zip: a stored LieConv network option list has the invalid length {count}.");
        return count < 0 ? null : Enumerable.Range(0, count).Select(_ => read(reader)).ToArray();
    }

    /// <summary>Runs the network on one cloud; serialised because the module is shared by parallel cursors (§8).</summary>
    private float[] Score(float[] coordinates, float[] features, int n)
    {
        lock (_forwardLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            _model.eval();
            var batch = new PointCloudBatch(
                tensor(coordinates, new long[] { 1, n, SpaceDimension }),
                tensor(features, new long[] { 1, n, Channels }),
                ones(1, n, dtype: ScalarType.Bool));
            return _model.forward(batch).softmax(-1).cpu().data<float>().ToArray();
        }
    }

    private sealed class Mapper : IRowMapper
    {
        private readonly LieConvMulticlassTransformer _parent;
        private readonly DataViewSchema _inputSchema;
        private readonly DataViewSchema.Column _points;
        private readonly DataViewSchema.Column? _features;

        public Mapper(LieConvMulticlassTransformer parent, DataViewSchema inputSchema)
        {
            _parent = parent;
            _inputSchema = inputSchema;
            _points = FindVector(inputSchema, parent.PointsColumnName, "points");
            _features = parent.FeaturesColumnName is null ? null : FindVector(inputSchema, parent.FeaturesColumnName, "features");
        }

        private DataViewSchema.Column FindVector(DataViewSchema schema, string name, string role)
        {
            var column = schema.GetColumnOrNull(name)
                ?? throw _parent._host.ExceptSchemaMismatch(nameof(schema), role, name);
            if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType item } || item != NumberDataViewType.Single)
                throw _parent._host.ExceptSchemaMismatch(nameof(schema), role, name, "vector of Single", column.Type.ToString());
            return column;
        }

        public DataViewSchema.DetachedColumn[] GetOutputColumns()
        {
            int classes = _parent.ClassCount;
            var score = new DataViewSchema.Annotations.Builder();
            score.AddPrimitiveValue(AnnotationUtils.Kinds.ScoreColumnKind, TextDataViewType.Instance,
                AnnotationUtils.Const.ScoreColumnKind.MulticlassClassification.AsMemory());
            score.AddPrimitiveValue(AnnotationUtils.Kinds.ScoreValueKind, TextDataViewType.Instance,
                AnnotationUtils.Const.ScoreValueKind.Score.AsMemory());
            // A fresh set id tells evaluators which Score/PredictedLabel belong together when several scorers ran.
            uint setId = checked(_inputSchema.GetMaxAnnotationKind(out _, AnnotationUtils.Kinds.ScoreColumnSetId) + 1);
            score.Add(AnnotationUtils.Kinds.ScoreColumnSetId, AnnotationUtils.ScoreColumnSetIdType, (ref uint v) => v = setId);
            _parent._labelValues?.AddTo(score, AnnotationUtils.Kinds.SlotNames, AnnotationUtils.Kinds.TrainingLabelValues);

            var predicted = new DataViewSchema.Annotations.Builder();
            _parent._labelValues?.AddTo(predicted, AnnotationUtils.Kinds.KeyValues);

            return
            [
                new(_parent.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, classes), score.ToAnnotations()),
                new(_parent.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), classes), predicted.ToAnnotations()),
            ];
        }

        public Func<int, bool> GetDependencies(Func<int, bool> activeOutput)
        {
            bool any = activeOutput(0) || activeOutput(1);
            int points = _points.Index, features = _features?.Index ?? -1;
            return col => any && (col == points || col == features);
        }

        public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
        {
            disposer = () => { };
            var pointsGetter = input.GetGetter<VBuffer<float>>(_points);
            var featuresGetter = _features is { } f ? input.GetGetter<VBuffer<float>>(f) : null;
            VBuffer<float> pointsBuffer = default, featuresBuffer = default;
            long cachedPosition = -1;
            float[] cached = [];
            int d = _parent.SpaceDimension, c = _parent.Channels;

            // Both outputs come from one forward pass per row.
            float[] Probabilities()
            {
                if (cachedPosition == input.Position)
                    return cached;
                pointsGetter(ref pointsBuffer);
                int length = pointsBuffer.Length;
                if (length == 0 || length % d != 0)
                    throw new InvalidDataException(
                        $"Column '{_points.Name}', row {input.Position}: has {length} values; expected a non-empty flattened (N, {d}) array of coordinates.");
                int n = length / d;
                var coordinates = new float[length];
                pointsBuffer.CopyTo(coordinates);
                float[] values;
                if (featuresGetter is null)
                {
                    values = new float[n];
                    Array.Fill(values, 1f);
                }
                else
                {
                    featuresGetter(ref featuresBuffer);
                    if (featuresBuffer.Length != n * c)
                        throw new InvalidDataException(
                            $"Column '{_features!.Value.Name}', row {input.Position}: has {featuresBuffer.Length} values for {n} points; expected N·c = {n * c}.");
                    values = new float[n * c];
                    featuresBuffer.CopyTo(values);
                }
                cached = _parent.Score(coordinates, values, n);
                cachedPosition = input.Position;
                return cached;
            }

            var getters = new Delegate[2];
            if (activeOutput(0))
            {
                getters[0] = (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    var p = Probabilities();
                    var editor = VBufferEditor.Create(ref dst, p.Length);
                    p.CopyTo(editor.Values);
                    dst = editor.Commit();
                });
            }
            if (activeOutput(1))
            {
                getters[1] = (ValueGetter<uint>)((ref uint dst) =>
                {
                    var p = Probabilities();
                    int best = 0;
                    for (int i = 1; i < p.Length; i++)
                        if (p[i] > p[best]) best = i;
                    dst = (uint)best + 1;
                });
            }
            return getters;
        }

        public void Save(ModelSaveContext ctx) => _parent.SaveModel(ctx);

        public ITransformer GetTransformer() => _parent;
    }
}
