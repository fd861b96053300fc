using LieConv.MLNet.Data;
using LieConv.Models;
using LieConv.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// Trains a <see cref="LieResNet"/> to predict one number per point cloud (mlnet-conventions.md §3, §5). Create it
/// with <c>mlContext.Regression.Trainers.LieConv(...)</c>; the label must be a Single column.
/// </summary>
/// <remarks>
/// As the original's molecule trainer does (reference §5.2), the network learns the label standardised with the mean
/// μ and standard deviation σ of the training labels, by an L1 loss, and predicts y·σ + μ. The whole training set is
/// read once into compact host arrays.
/// </remarks>
public sealed class LieConvRegressionTrainer : IEstimator<LieConvRegressionTransformer>
{
    /// <summary>Settings of <see cref="LieConvRegressionTrainer"/>.</summary>
    public sealed class Options : LieConvTrainerOptionsBase
    {
    }

    internal const string LoadName = "LieConvRegression";

    /// <summary>
    /// The validation metrics, usable as <see cref="LieConvTrainingOptionsBase.EarlyStoppingMetric"/>, all minimised:
    /// "MAE" and "MSE" in the label's units, and "Loss", the training loss (L1 on standardised labels).
    /// </summary>
    public static IReadOnlyList<string> MetricNames { get; } = ["MAE", "MSE", "Loss"];

    private readonly IHost _host;
    private readonly Options _options;

    internal LieConvRegressionTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        _host = env.Register(LoadName);
        _options = options;
        LieConvFitting.CheckOptions(_host, options, MetricNames);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        var label = LieConvFitting.CheckInputs(_host, inputSchema, _options);
        if (label.Kind != SchemaShape.Column.VectorKind.Scalar || label.ItemType != NumberDataViewType.Single)
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "label", _options.LabelColumnName, "Single", label.GetTypeString());

        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[_options.ScoreColumnName] = new SchemaShape.Column(_options.ScoreColumnName, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.Single, false, new SchemaShape(LieConvFitting.ScoreAnnotationShapes()));
        return new SchemaShape(columns.Values);
    }

    /// <summary>Trains the network on <paramref name="input"/> and returns the fitted transformer.</summary>
    /// <param name="input">Clouds with the points, optional features and Single label columns named in the options.</param>
    /// <exception cref="InvalidOperationException">A column is missing or has the wrong type, or there are no rows.</exception>
    /// <exception cref="InvalidDataException">A row is malformed or its label is not finite (see <see cref="PointCloudReader"/>).</exception>
    public LieConvRegressionTransformer Fit(IDataView input)
    {
        _host.CheckValue(input, nameof(input));
        GetOutputSchema(SchemaShape.Create(input.Schema));
        var reader = LieConvFitting.Reader(input.Schema, _options, PointCloudLabelKind.Single);
        var rows = LieConvFitting.ReadRows(reader, input);
        var scaling = Standardisation(rows.Select(r => r.Targets![0]));

        var validation = LieConvFitting.ReadValidation(_options, reader, rows);
        var task = new LieConvTask("regression", PointCloudLabelKind.Single, 1,
            (output, targets) => Losses.StandardisedL1(output.squeeze(-1), targets, scaling),
            [
                ("MAE", (output, targets) => Metrics.MeanAbsoluteError(output.squeeze(-1), targets, scaling)),
                ("MSE", (output, targets) => (output.squeeze(-1).to(TorchSharp.torch.ScalarType.Float64) * scaling.Std + scaling.Mean
                    - targets.to(TorchSharp.torch.ScalarType.Float64)).square().mean()),
                ("Loss", (output, targets) => Losses.StandardisedL1(output.squeeze(-1), targets, scaling)),
            ]);
        var fit = LieConvFitting.Train(_host, _options, task, rows, validation);
        try
        {
            return new LieConvRegressionTransformer(_host, fit.Model, fit.Device,
                new LieConvInputs(_options.PointsColumnName, _options.FeaturesColumnName, reader.SpaceDimension, rows[0].Channels, _options.MaxPoints),
                _options.ScoreColumnName, scaling);
        }
        catch
        {
            fit.Model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// μ and σ of the training labels (population deviation); σ falls back to 1 when the labels are all equal, where
    /// the network then learns the offset from μ unscaled.
    /// </summary>
    private static TargetScaling Standardisation(IEnumerable<float> labels)
    {
        var values = labels.Select(v => (double)v).ToArray();
        double mean = values.Average();
        double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length);
        return new TargetScaling(mean, std > 0 && double.IsFinite(std) ? std : 1);
    }
}
