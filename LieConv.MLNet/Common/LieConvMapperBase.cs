using LieConv.MLNet.MlNet;
using LieConv.MLNet.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// The row mapper of a <see cref="LieConvTransformerBase"/>: finds the input columns, runs the network once per row
/// and leaves the output columns, and what they hold, to the derived mapper.
/// </summary>
internal abstract class LieConvMapperBase : IRowMapper
{
    private readonly LieConvTransformerBase _parent;
    private readonly DataViewSchema.Column _points;
    private readonly DataViewSchema.Column? _features;

    protected LieConvMapperBase(LieConvTransformerBase parent, IHost host, DataViewSchema inputSchema)
    {
        _parent = parent;
        InputSchema = inputSchema;
        _points = SchemaChecks.SingleVector(host, inputSchema, parent.PointsColumnName, "points");
        _features = parent.FeaturesColumnName is null ? null : SchemaChecks.SingleVector(host, inputSchema, parent.FeaturesColumnName, "features");
    }

    protected DataViewSchema InputSchema { get; }

    /// <summary>How many columns <see cref="GetOutputColumns"/> gives.</summary>
    protected abstract int OutputCount { get; }

    public abstract DataViewSchema.DetachedColumn[] GetOutputColumns();

    /// <summary>The getters of the active outputs, given the network's (head-mapped) output of the current row.</summary>
    protected abstract Delegate[] CreateGetters(Func<float[]> networkOutput, Func<int, bool> activeOutput);

    /// <summary>
    /// The score column's annotations of a <paramref name="kind"/> scorer (an <c>AnnotationUtils.Const.ScoreColumnKind</c>).
    /// </summary>
    protected DataViewSchema.Annotations.Builder ScoreAnnotations(string kind)
    {
        var score = new DataViewSchema.Annotations.Builder();
        score.AddPrimitiveValue(AnnotationUtils.Kinds.ScoreColumnKind, TextDataViewType.Instance, kind.AsMemory());
        score.AddPrimitiveValue(AnnotationUtils.Kinds.ScoreValueKind, TextDataViewType.Instance,
            AnnotationUtils.Const.ScoreValueKind.Score.AsMemory());
        // A fresh set id tells evaluators which Score/PredictedLabel belong together when several scorers ran.
        uint setId = checked(InputSchema.GetMaxAnnotationKind(out _, AnnotationUtils.Kinds.ScoreColumnSetId) + 1);
        score.Add(AnnotationUtils.Kinds.ScoreColumnSetId, AnnotationUtils.ScoreColumnSetIdType, (ref uint v) => v = setId);
        return score;
    }

    public Func<int, bool> GetDependencies(Func<int, bool> activeOutput)
    {
        bool any = Enumerable.Range(0, OutputCount).Any(activeOutput);
        int points = _points.Index, features = _features?.Index ?? -1;
        return col => any && (col == points || col == features);
    }

    /// <summary>
    /// The view this mapper's transformed view reads (set by <c>Transform</c>): bulk reads score its rows in batches
    /// through a cursor of their own that reads ahead (<see cref="RowsAhead{TRow}"/>). Null for single-row mapping (a
    /// <c>PredictionEngine</c>).
    /// </summary>
    internal IDataView? Source { get; set; }

    /// <summary>The most points a batch scored ahead holds once padded to its largest cloud (a 10⁵-point cloud is scored alone).</summary>
    private const int ScoringBatchPoints = 1 << 16;

    public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
    {
        disposer = () => { };
        // The inputs are active only when an output is (GetDependencies), so their getters may not be asked for otherwise.
        if (!Enumerable.Range(0, OutputCount).Any(activeOutput))
            return new Delegate[OutputCount];
        var reader = new CloudReader(this, input);
        var ahead = Source is null ? null : new RowsAhead<PointCloudInput>(Source, new[] { _points, _features }.OfType<DataViewSchema.Column>(), input,
            row => new CloudReader(this, row).Read, FitsBatch, _parent.Score);
        if (ahead is not null) disposer = ahead.Dispose;
        long cachedPosition = -1;
        float[] cached = [];

        // Every output comes from one forward pass per row, or from the batch the row was scored in.
        float[] NetworkOutput()
        {
            if (cachedPosition == input.Position)
                return cached;
            cached = ahead?.Outputs(input.Position) ?? _parent.Score([reader.Read()])[0];
            cachedPosition = input.Position;
            return cached;
        }

        return CreateGetters(NetworkOutput, activeOutput);
    }

    /// <summary>Whether <paramref name="next"/> may join <paramref name="batch"/>: the batch, padded to its largest cloud, within the point budget.</summary>
    private static bool FitsBatch(IReadOnlyList<PointCloudInput> batch, PointCloudInput next) =>
        (long)Math.Max(batch.Max(cloud => cloud.Points), next.Points) * (batch.Count + 1) <= ScoringBatchPoints;

    /// <summary>Reads the current cloud of a row (or cursor), checked, with errors that name the column and the row.</summary>
    private sealed class CloudReader
    {
        private readonly LieConvMapperBase _mapper;
        private readonly DataViewRow _row;
        private readonly ValueGetter<VBuffer<float>> _points;
        private readonly ValueGetter<VBuffer<float>>? _features;
        private VBuffer<float> _pointsBuffer, _featuresBuffer;

        public CloudReader(LieConvMapperBase mapper, DataViewRow row)
        {
            (_mapper, _row) = (mapper, row);
            _points = row.GetGetter<VBuffer<float>>(mapper._points);
            _features = mapper._features is { } f ? row.GetGetter<VBuffer<float>>(f) : null;
        }

        /// <exception cref="InvalidDataException">The row's cloud is empty, ragged, too large or not finite.</exception>
        public PointCloudInput Read()
        {
            var (parent, pointsColumn, featuresColumn) = (_mapper._parent, _mapper._points, _mapper._features);
            int d = parent.SpaceDimension, c = parent.Channels;
            _points(ref _pointsBuffer);
            long row = _row.Position;
            int n = PointCloudChecks.PointCount(pointsColumn.Name, row, _pointsBuffer.Length, d, parent.MaxPoints);
            var coordinates = new float[_pointsBuffer.Length];
            _pointsBuffer.CopyTo(coordinates);
            PointCloudChecks.Finite(coordinates, d, pointsColumn.Name, row, "coordinates");
            float[] values;
            if (_features is null)
            {
                values = new float[n];
                Array.Fill(values, 1f);
            }
            else
            {
                _features(ref _featuresBuffer);
                PointCloudChecks.FeatureLength(featuresColumn!.Value.Name, row, _featuresBuffer.Length, n, c, "as in training");
                values = new float[n * c];
                _featuresBuffer.CopyTo(values);
                PointCloudChecks.Finite(values, c, featuresColumn!.Value.Name, row, "features");
            }
            return new PointCloudInput(coordinates, values, n);
        }
    }

    public void Save(ModelSaveContext ctx) => _parent.SaveModel(ctx);

    public ITransformer GetTransformer() => _parent;
}
