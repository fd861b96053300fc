using LieConv.MLNet;
using LieConv.MLNet.MlNet;
using Microsoft.ML.Data;

// In Microsoft.ML, as ML.NET's own trainer extensions are, so that `using Microsoft.ML;` alone makes
// mlContext.MulticlassClassification.Trainers.LieConv(...) and mlContext.Regression.Trainers.LieConv(...) discoverable.
namespace Microsoft.ML;

/// <summary>Catalog extensions that create LieConv point-cloud trainers (mlnet-conventions.md §9).</summary>
public static class LieConvCatalog
{
    /// <summary>Creates a <see cref="LieConvMulticlassTrainer"/> with every setting given.</summary>
    /// <param name="catalog">The multiclass classification trainers catalog.</param>
    /// <param name="options">The trainer's settings.</param>
    public static LieConvMulticlassTrainer LieConv(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        LieConvMulticlassTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new LieConvMulticlassTrainer(catalog.GetHostEnvironment(), options);
    }

    /// <summary>Creates a <see cref="LieConvMulticlassTrainer"/> with default network settings.</summary>
    /// <param name="catalog">The multiclass classification trainers catalog.</param>
    /// <param name="labelColumnName">The key label column (use <c>MapValueToKey</c> first).</param>
    /// <param name="pointsColumnName">The coordinates column, <c>VectorType(0, d)</c>.</param>
    /// <param name="featuresColumnName">The per-point features column, or <see langword="null"/> for none.</param>
    /// <param name="scoreColumnName">The output per-class score column.</param>
    /// <param name="predictedLabelColumnName">The output predicted-label key column.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Clouds per optimiser step.</param>
    public static LieConvMulticlassTrainer LieConv(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = DefaultColumnNames.Label,
        string pointsColumnName = "Points",
        string? featuresColumnName = null,
        string scoreColumnName = DefaultColumnNames.Score,
        string predictedLabelColumnName = DefaultColumnNames.PredictedLabel,
        int epochs = 3,
        int batchSize = 16)
        => LieConv(catalog, new LieConvMulticlassTrainer.Options
        {
            LabelColumnName = labelColumnName,
            PointsColumnName = pointsColumnName,
            FeaturesColumnName = featuresColumnName,
            ScoreColumnName = scoreColumnName,
            PredictedLabelColumnName = predictedLabelColumnName,
            Epochs = epochs,
            BatchSize = batchSize,
        });

    /// <summary>Creates a <see cref="LieConvRegressionTrainer"/> with every setting given.</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="options">The trainer's settings.</param>
    public static LieConvRegressionTrainer LieConv(
        this RegressionCatalog.RegressionTrainers catalog,
        LieConvRegressionTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new LieConvRegressionTrainer(catalog.GetHostEnvironment(), options);
    }

    /// <summary>Creates a <see cref="LieConvRegressionTrainer"/> with default network settings.</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="labelColumnName">The Single label column.</param>
    /// <param name="pointsColumnName">The coordinates column, <c>VectorType(0, d)</c>.</param>
    /// <param name="featuresColumnName">The per-point features column, or <see langword="null"/> for none.</param>
    /// <param name="scoreColumnName">The output Single score column.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Clouds per optimiser step.</param>
    public static LieConvRegressionTrainer LieConv(
        this RegressionCatalog.RegressionTrainers catalog,
        string labelColumnName = DefaultColumnNames.Label,
        string pointsColumnName = "Points",
        string? featuresColumnName = null,
        string scoreColumnName = DefaultColumnNames.Score,
        int epochs = 3,
        int batchSize = 16)
        => LieConv(catalog, new LieConvRegressionTrainer.Options
        {
            LabelColumnName = labelColumnName,
            PointsColumnName = pointsColumnName,
            FeaturesColumnName = featuresColumnName,
            ScoreColumnName = scoreColumnName,
            Epochs = epochs,
            BatchSize = batchSize,
        });
}
