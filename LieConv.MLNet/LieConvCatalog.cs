using LieConv.MLNet;
using LieConv.MLNet.MlNet;
using Microsoft.ML.Data;

// In Microsoft.ML, as ML.NET's own trainer extensions are, so that `using Microsoft.ML;` alone makes
// mlContext.MulticlassClassification.Trainers.LieConv(...) and mlContext.Regression.Trainers.LieConv(...) discoverable.
namespace Microsoft.ML;

/// <summary>Catalog extensions that create LieConv point-cloud trainers and featurizers (mlnet-conventions.md §9).</summary>
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
    /// <param name="validationSet">Evaluated after every epoch (metrics in the log and progress), or <see langword="null"/>.</param>
    public static LieConvMulticlassTrainer LieConv(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = DefaultColumnNames.Label,
        string pointsColumnName = "Points",
        string? featuresColumnName = null,
        string scoreColumnName = DefaultColumnNames.Score,
        string predictedLabelColumnName = DefaultColumnNames.PredictedLabel,
        int epochs = 3,
        int batchSize = 16,
        IDataView? validationSet = null)
        => LieConv(catalog, new LieConvMulticlassTrainer.Options
        {
            LabelColumnName = labelColumnName,
            PointsColumnName = pointsColumnName,
            FeaturesColumnName = featuresColumnName,
            ScoreColumnName = scoreColumnName,
            PredictedLabelColumnName = predictedLabelColumnName,
            Epochs = epochs,
            BatchSize = batchSize,
            ValidationSet = validationSet,
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
    /// <param name="validationSet">Evaluated after every epoch (metrics in the log and progress), or <see langword="null"/>.</param>
    public static LieConvRegressionTrainer LieConv(
        this RegressionCatalog.RegressionTrainers catalog,
        string labelColumnName = DefaultColumnNames.Label,
        string pointsColumnName = "Points",
        string? featuresColumnName = null,
        string scoreColumnName = DefaultColumnNames.Score,
        int epochs = 3,
        int batchSize = 16,
        IDataView? validationSet = null)
        => LieConv(catalog, new LieConvRegressionTrainer.Options
        {
            LabelColumnName = labelColumnName,
            PointsColumnName = pointsColumnName,
            FeaturesColumnName = featuresColumnName,
            ScoreColumnName = scoreColumnName,
            Epochs = epochs,
            BatchSize = batchSize,
            ValidationSet = validationSet,
        });

    /// <summary>Creates an <see cref="ImageToPointCloudEstimator"/> with every setting given.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">The featurizer's settings.</param>
    public static ImageToPointCloudEstimator ConvertImageToPointCloud(this TransformsCatalog catalog, ImageToPointCloudEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new ImageToPointCloudEstimator(catalog.GetHostEnvironment(), options);
    }

    /// <summary>
    /// Creates an <see cref="ImageToPointCloudEstimator"/>: the pixels within <paramref name="cropRadius"/> of the
    /// image centre become points on the image grid, with their normalised values as features (reference §3.5).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="pointsColumnName">The points column written, <c>Vector&lt;Single, N, 2&gt;</c>.</param>
    /// <param name="featuresColumnName">The features column written, <c>Vector&lt;Single, N, C&gt;</c>.</param>
    /// <param name="inputColumnName">The pixels column, C·H·W Singles per row, channel-major.</param>
    /// <param name="imageHeight">H.</param>
    /// <param name="imageWidth">W.</param>
    /// <param name="channels">C.</param>
    /// <param name="cropRadius">Pixels this far from the centre or farther are dropped.</param>
    /// <param name="mean">Subtracted from every value (RotMNIST: 0.130).</param>
    /// <param name="std">Divides every value after the mean is subtracted (RotMNIST: 0.297).</param>
    public static ImageToPointCloudEstimator ConvertImageToPointCloud(
        this TransformsCatalog catalog,
        string pointsColumnName = "Points",
        string featuresColumnName = "Features",
        string inputColumnName = "Pixels",
        int imageHeight = 28,
        int imageWidth = 28,
        int channels = 1,
        double cropRadius = 15,
        float mean = 0,
        float std = 1)
        => ConvertImageToPointCloud(catalog, new ImageToPointCloudEstimator.Options
        {
            PointsColumnName = pointsColumnName,
            FeaturesColumnName = featuresColumnName,
            InputColumnName = inputColumnName,
            ImageHeight = imageHeight,
            ImageWidth = imageWidth,
            Channels = channels,
            CropRadius = cropRadius,
            Mean = mean,
            Std = std,
        });

    /// <summary>
    /// Creates an <see cref="AtomicNumberFeaturizerEstimator"/>: per-atom features onehot(Z) ⊗ (1, Z/scale, (Z/scale)²)
    /// from atomic numbers (reference §3.6).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The features column written, 3·S Singles per atom.</param>
    /// <param name="inputColumnName">The atomic numbers column, one Single per atom.</param>
    /// <param name="species">The atomic numbers told apart; <see langword="null"/> for QM9's 1, 6, 7, 8, 9.</param>
    /// <param name="chargeScale">The scale of Z; QM9's 9 by default.</param>
    public static AtomicNumberFeaturizerEstimator FeaturizeAtomicNumbers(
        this TransformsCatalog catalog,
        string outputColumnName = "Features",
        string inputColumnName = "Charges",
        int[]? species = null,
        double chargeScale = 9)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var options = new AtomicNumberFeaturizerEstimator.Options
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            ChargeScale = chargeScale,
        };
        if (species is not null)
            options.Species = species;
        return new AtomicNumberFeaturizerEstimator(catalog.GetHostEnvironment(), options);
    }
}
