using Microsoft.ML.Data;

namespace LieConv.MLNet;

/// <summary>
/// The settings every LieConv point-cloud trainer shares: the input columns, the network architecture and the
/// optimisation (mlnet-conventions.md §3). Each trainer's <c>Options</c> adds what only it needs.
/// </summary>
public abstract class LieConvTrainerOptionsBase
{
    /// <summary>The column holding the label of each cloud.</summary>
    public string LabelColumnName = DefaultColumnNames.Label;

    /// <summary>The coordinates column, <c>VectorType(0, d)</c>.</summary>
    public string PointsColumnName = "Points";

    /// <summary>The per-point features column, or <see langword="null"/> to give every point the feature 1.</summary>
    public string? FeaturesColumnName;

    /// <summary>The output score column.</summary>
    public string ScoreColumnName = DefaultColumnNames.Score;

    /// <summary>The symmetry group spec, e.g. <c>T(2)</c> or <c>SE2</c>.</summary>
    public string Group = "T(2)";

    /// <summary>Width of every stage of the network.</summary>
    public int Channels = 32;

    /// <summary>Number of bottleneck blocks.</summary>
    public int Layers = 2;

    /// <summary>Neighbours per query point.</summary>
    public int Neighbourhood = 16;

    /// <summary>Target ball fill fraction of every layer.</summary>
    public double Fill = 1.0 / 3;

    /// <summary>Fraction of points each block keeps.</summary>
    public double Downsample = 1;

    /// <summary>Group elements per input point.</summary>
    public int LiftSamples = 1;

    /// <summary>k-nearest-neighbour neighbourhoods instead of random subsets of balls.</summary>
    public bool Knn;

    /// <summary>Masked batch norm in the blocks and kernel networks.</summary>
    public bool BatchNorm = true;

    /// <summary>Average (rather than sum) over neighbours and in the global pool.</summary>
    public bool Mean = true;

    /// <summary>Number of passes over the training data.</summary>
    public int Epochs = 3;

    /// <summary>Clouds per optimiser step.</summary>
    public int BatchSize = 16;

    /// <summary>Adam's base learning rate (cosine schedule over the epochs).</summary>
    public double LearningRate = 3e-3;

    /// <summary>The seed of weights, shuffling and sampling; <see langword="null"/> takes the MLContext's seed, or 1.</summary>
    public int? Seed;

    /// <summary>libtorch's intra-op thread count (process-wide); <see langword="null"/> leaves it as it is.</summary>
    public int? NumberOfThreads;

    /// <summary>Checked before every batch; cancelling makes <c>Fit</c> throw <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken CancellationToken;
}
