using LieConv.MLNet.Data;
using LieConv.Models;
using LieConv.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// Trains a <see cref="LieResNet"/> to classify point clouds (mlnet-conventions.md §3, §5). Create it with
/// <c>mlContext.MulticlassClassification.Trainers.LieConv(...)</c>; the label must be a key column
/// (use <c>MapValueToKey</c>).
/// </summary>
/// <remarks>
/// The training (and validation) clouds are read once into compact host arrays and regrouped into new batches
/// every epoch, so the data view is enumerated once however many epochs run.
/// </remarks>
public sealed class LieConvMulticlassTrainer : IEstimator<LieConvMulticlassTransformer>
{
    /// <summary>Settings of <see cref="LieConvMulticlassTrainer"/>.</summary>
    public sealed class Options : LieConvTrainerOptionsBase
    {
        /// <summary>The output key column of the predicted class.</summary>
        public string PredictedLabelColumnName = DefaultColumnNames.PredictedLabel;
    }

    internal const string LoadName = "LieConvMulticlass";

    /// <summary>
    /// The validation metrics, usable as <see cref="LieConvTrainingOptionsBase.EarlyStoppingMetric"/>: "Accuracy" (the
    /// fraction of clouds whose most probable class is the label; maximised) and "LogLoss" (the mean cross-entropy;
    /// minimised).
    /// </summary>
    public static IReadOnlyList<string> MetricNames { get; } = ["Accuracy", "LogLoss"];

    private readonly IHost _host;
    private readonly Options _options;

    internal LieConvMulticlassTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        _host = env.Register(LoadName);
        _options = options;
        LieConvFitting.CheckOptions(_host, options, MetricNames);
        _host.CheckUserArg(!string.IsNullOrEmpty(options.PredictedLabelColumnName), nameof(options.PredictedLabelColumnName));
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        var label = LieConvFitting.CheckInputs(_host, inputSchema, _options);
        if (!label.IsKey)
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "label", _options.LabelColumnName, "key", label.GetTypeString());

        var columns = inputSchema.ToDictionary(c => c.Name);
        var scoreAnnotations = LieConvFitting.ScoreAnnotationShapes();
        var predictedAnnotations = new List<SchemaShape.Column>();
        if (label.Annotations.TryFindColumn(AnnotationUtils.Kinds.KeyValues, out var keyValues))
        {
            scoreAnnotations.Add(new(AnnotationUtils.Kinds.SlotNames, SchemaShape.Column.VectorKind.Vector, keyValues.ItemType, false));
            scoreAnnotations.Add(new(AnnotationUtils.Kinds.TrainingLabelValues, SchemaShape.Column.VectorKind.Vector, keyValues.ItemType, false));
            predictedAnnotations.Add(keyValues);
        }
        columns[_options.ScoreColumnName] = new SchemaShape.Column(_options.ScoreColumnName, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, false, new SchemaShape(scoreAnnotations));
        columns[_options.PredictedLabelColumnName] = new SchemaShape.Column(_options.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, true, new SchemaShape(predictedAnnotations));
        return new SchemaShape(columns.Values);
    }

    /// <summary>Trains the network on <paramref name="input"/> and returns the fitted transformer.</summary>
    /// <param name="input">Clouds with the points, optional features and key label columns named in the options.</param>
    /// <exception cref="InvalidOperationException">A column is missing or has the wrong type, or there are no rows.</exception>
    /// <exception cref="InvalidDataException">A row is malformed (see <see cref="PointCloudReader"/>).</exception>
    public LieConvMulticlassTransformer Fit(IDataView input)
    {
        _host.CheckValue(input, nameof(input));
        GetOutputSchema(SchemaShape.Create(input.Schema));
        var reader = LieConvFitting.Reader(input.Schema, _options, PointCloudLabelKind.Key);
        if (reader.ClassCount < 1)
            throw new InvalidOperationException($"Label column '{_options.LabelColumnName}' has no classes; expected a key with a known count (MapValueToKey).");

        var rows = LieConvFitting.ReadRows(reader, input);
        var validation = LieConvFitting.ReadValidation(_options, reader, rows);
        var task = new LieConvTask("multiclass", PointCloudLabelKind.Key, reader.ClassCount, Losses.CrossEntropy,
            [("Accuracy", Metrics.Accuracy), ("LogLoss", Losses.CrossEntropy)]);
        var fit = LieConvFitting.Train(_host, _options, task, rows, validation);
        try
        {
            return new LieConvMulticlassTransformer(_host, fit.Model, fit.Device,
                new LieConvInputs(_options.PointsColumnName, _options.FeaturesColumnName, reader.SpaceDimension, rows[0].Channels, _options.MaxPoints),
                _options.ScoreColumnName, _options.PredictedLabelColumnName, LabelValues.From(input.Schema[_options.LabelColumnName]));
        }
        catch
        {
            fit.Model.Dispose();
            throw;
        }
    }
}
