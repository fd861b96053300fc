using LieConv.Models;
using LieConv.Nn;
using LieConv.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace LieConv.MLNet;

/// <summary>
/// The settings every LieConv point-cloud trainer shares: the input columns, the network architecture (reference §3.4)
/// and, from <see cref="LieConvTrainingOptionsBase"/>, the optimisation (reference §5.1, mlnet-conventions.md §3, §10).
/// Each trainer's <c>Options</c> adds what only it needs.
/// </summary>
public abstract class LieConvTrainerOptionsBase : LieConvTrainingOptionsBase
{
    // ----- Columns -----

    /// <summary>The column holding the label of each cloud.</summary>
    public string LabelColumnName = DefaultColumnNames.Label;

    /// <summary>The coordinates column: a vector of Single, the row-major flattening of (N, d), declared <c>VectorType(0, d)</c>.</summary>
    public string PointsColumnName = "Points";

    /// <summary>The per-point features column (N·c Singles), or <see langword="null"/> to give every point the feature 1.</summary>
    public string? FeaturesColumnName;

    /// <summary>The output score column.</summary>
    public string ScoreColumnName = DefaultColumnNames.Score;

    /// <summary>
    /// The coordinate dimension d when the points column does not declare it (e.g. TextLoader's <c>R4:1-*</c> or
    /// <c>Concatenate</c> give dimensions [0]); <see langword="null"/> takes it from the column's dimensions [0, d].
    /// </summary>
    public int? CoordinateDimension;

    /// <summary>The most points a cloud may have, in training and in prediction; <see langword="null"/> for no limit.</summary>
    public int? MaxPoints;

    // ----- Network (LieResNet, reference §3.4) -----

    /// <summary>The symmetry group spec as the original writes it, e.g. <c>T(2)</c>, <c>SO2(.2)</c>, <c>SE2(.05)</c>, <c>SE3(.2)</c>.</summary>
    public string Group = "T(2)";

    /// <summary>Width k of the first stage (and of every stage unless <see cref="IncreaseChannels"/>).</summary>
    public int Channels = 32;

    /// <summary>Number of bottleneck blocks.</summary>
    public int Layers = 2;

    /// <summary>Neighbours per query point (nbhd).</summary>
    public int Neighbourhood = 16;

    /// <summary>
    /// Target fraction of the points that fall in a query's ball, for the first layer; layer i uses
    /// Fill / ds^i (at most 1), where ds is the per-block downsampling, so the expected neighbour count stays put as
    /// points thin out (the image recipe's rule; with no downsampling every layer uses Fill).
    /// </summary>
    public double Fill = 1.0 / 3;

    /// <summary>
    /// Fraction of the points left after all blocks (total_ds); each block keeps TotalDownsampling^(1/Layers) of its
    /// input by farthest-point sampling. 1 keeps every point.
    /// </summary>
    public double TotalDownsampling = 1;

    /// <summary>Grow the width as points are dropped: stage i has ⌊k / ds^(i/2)⌋ channels (the image recipe).</summary>
    public bool IncreaseChannels;

    /// <summary>Group elements per input point (liftsamples; the SE(2) image recipe uses 2, SE(3) molecules 4).</summary>
    public int LiftSamples = 1;

    /// <summary>k-nearest-neighbour neighbourhoods instead of random subsets of adaptive-radius balls.</summary>
    public bool Knn;

    /// <summary>Masked batch norm in the blocks and kernel networks.</summary>
    public bool BatchNorm = true;

    /// <summary>Average (rather than sum) over neighbours and in the global pool.</summary>
    public bool Mean = true;

    /// <summary>The nonlinearity.</summary>
    public Activation Activation = Activation.Swish;

    // ----- Training -----

    /// <summary>A random transformation of every training cloud (never of validation or prediction clouds).</summary>
    public PointCloudAugmentation Augmentation = PointCloudAugmentation.None;
}
