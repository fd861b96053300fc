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
    /// through a cursor of their own that reads ahead. Null for single-row mapping (a <c>PredictionEngine</c>).
    /// </summary>
    internal IDataView? Source { get; set; }

    /// <summary>
    /// The most clouds scored in one batch when reading ahead, and the most points a batch holds once padded to its
    /// largest cloud (a 10⁵-point cloud is scored alone).
    /// </summary>
    internal const int ScoringBatchClouds = 32, ScoringBatchPoints = 1 << 16;

    public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
    {
        disposer = () => { };
        // The inputs are active only when an output is (GetDependencies), so their getters may not be asked for otherwise.
        if (!Enumerable.Range(0, OutputCount).Any(activeOutput))
            return new Delegate[OutputCount];
        var reader = new CloudReader(this, input);
        var ahead = Source is null ? null : new ScoresAhead(this, Source, input);
        if (ahead is not null) disposer = ahead.Dispose;
        long cachedPosition = -1;
        float[] cached = [];

        // Every output comes from one forward pass per row, or from the batch the row was scored in.
        float[] NetworkOutput()
        {
            if (cachedPosition == input.Position)
                return cached;
            cached = ahead?.Scores(input.Position) ?? _parent.Score([reader.Read()])[0];
            cachedPosition = input.Position;
            return cached;
        }

        return CreateGetters(NetworkOutput, activeOutput);
    }

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

    /// <summary>
    /// Scores of the rows a cursor is about to reach, computed in batches from a second cursor over the same view that
    /// reads ahead of it: a network call per batch instead of per row (the README's main job scores its 1,000 test
    /// digits this way).
    /// </summary>
    /// <remarks>
    /// The second cursor must meet the same rows in the same order, which a cursor that shuffles, or one of a set that
    /// splits the rows, does not: every row's id is compared with the id the second cursor read at its position, and
    /// at the first difference this cursor scores row by row from then on. A row that cannot be read (an empty or
    /// non-finite cloud) ends the batch before it, so that its error is raised when the cursor reaches it, as row-by-row
    /// scoring would.
    /// </remarks>
    private sealed class ScoresAhead(LieConvMapperBase mapper, IDataView source, DataViewRow main) : IDisposable
    {
        private readonly ValueGetter<DataViewRowId> _mainId = main.GetIdGetter();
        private DataViewRowCursor? _cursor;
        private ValueGetter<DataViewRowId>? _cursorId;
        private CloudReader? _reader;
        private long _first = -1;
        private float[][] _scores = [];
        private DataViewRowId[] _ids = [];
        private bool _off;

        /// <summary>The scores of the row at <paramref name="position"/>, or null when it must be scored on its own.</summary>
        public float[]? Scores(long position)
        {
            if (_off) return null;
            if (position < _first || position >= _first + _scores.Length)
            {
                if (!Fill(position)) return null;
            }
            DataViewRowId id = default;
            _mainId(ref id);
            int slot = (int)(position - _first);
            if (!id.Equals(_ids[slot]))
            {
                _off = true;   // not the rows the second cursor reads: row by row from here on
                return null;
            }
            return _scores[slot];
        }

        /// <summary>Scores a batch that starts at <paramref name="position"/>; false if its first row cannot be read.</summary>
        private bool Fill(long position)
        {
            if (_cursor is null || _cursor.Position > position)
            {
                _cursor?.Dispose();
                _cursor = source.GetRowCursor(source.Schema.Where(column => column.Index == mapper._points.Index || column.Index == mapper._features?.Index));
                _cursorId = _cursor.GetIdGetter();
                _reader = new CloudReader(mapper, _cursor);
            }
            while (_cursor.Position < position)
            {
                if (_cursor.MoveNext()) continue;
                _off = true;   // the view ended before the row: not the same rows
                return false;
            }
            var clouds = new List<PointCloudInput>();
            var ids = new List<DataViewRowId>();
            int widest = 0;
            while (true)
            {
                PointCloudInput cloud;
                try
                {
                    cloud = _reader!.Read();
                }
                catch (Exception)
                {
                    // Whatever fails to read here (a bad cloud, an upstream transform's error) fails again when the
                    // cursor reaches this row, and must fail there, naming it: the batch ends before it.
                    break;
                }
                widest = Math.Max(widest, cloud.Points);
                if (clouds.Count > 0 && (long)widest * (clouds.Count + 1) > ScoringBatchPoints) break;
                DataViewRowId id = default;
                _cursorId!(ref id);
                clouds.Add(cloud);
                ids.Add(id);
                if (clouds.Count == ScoringBatchClouds || !MoveAhead()) break;
            }
            if (clouds.Count == 0) return false;
            (_first, _scores, _ids) = (position, mapper._parent.Score(clouds), ids.ToArray());
            return true;
        }

        /// <summary>The next row ahead; false at the end, or after an error, from which on the cursor scores row by row.</summary>
        private bool MoveAhead()
        {
            try
            {
                return _cursor!.MoveNext();
            }
            catch (Exception)
            {
                // The cursor read ahead of meets the error at its own row, if it is an error of that row.
                _off = true;
                return false;
            }
        }

        public void Dispose() => _cursor?.Dispose();
    }

    public void Save(ModelSaveContext ctx) => _parent.SaveModel(ctx);

    public ITransformer GetTransformer() => _parent;
}
