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

    public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action disposer)
    {
        disposer = () => { };
        // The inputs are active only when an output is (GetDependencies), so their getters may not be asked for otherwise.
        if (!Enumerable.Range(0, OutputCount).Any(activeOutput))
            return new Delegate[OutputCount];
        var pointsGetter = input.GetGetter<VBuffer<float>>(_points);
        var featuresGetter = _features is { } f ? input.GetGetter<VBuffer<float>>(f) : null;
        VBuffer<float> pointsBuffer = default, featuresBuffer = default;
        long cachedPosition = -1;
        float[] cached = [];
        int d = _parent.SpaceDimension, c = _parent.Channels;

        // Every output comes from one forward pass per row.
        float[] NetworkOutput()
        {
            if (cachedPosition == input.Position)
                return cached;
            pointsGetter(ref pointsBuffer);
            long row = input.Position;
            int n = PointCloudChecks.PointCount(_points.Name, row, pointsBuffer.Length, d, _parent.MaxPoints);
            var coordinates = new float[pointsBuffer.Length];
            pointsBuffer.CopyTo(coordinates);
            PointCloudChecks.Finite(coordinates, d, _points.Name, row, "coordinates");
            float[] values;
            if (featuresGetter is null)
            {
                values = new float[n];
                Array.Fill(values, 1f);
            }
            else
            {
                featuresGetter(ref featuresBuffer);
                PointCloudChecks.FeatureLength(_features!.Value.Name, row, featuresBuffer.Length, n, c, "as in training");
                values = new float[n * c];
                featuresBuffer.CopyTo(values);
                PointCloudChecks.Finite(values, c, _features!.Value.Name, row, "features");
            }
            cached = _parent.Score(coordinates, values, n);
            cachedPosition = input.Position;
            return cached;
        }

        return CreateGetters(NetworkOutput, activeOutput);
    }

    public void Save(ModelSaveContext ctx) => _parent.SaveModel(ctx);

    public ITransformer GetTransformer() => _parent;
}
