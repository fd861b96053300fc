using LieConv.Nn;

namespace LieConv.Models;

/// <summary>
/// Hyper-parameters of <see cref="LieResNet"/> (reference §3.4); the defaults are the original's. A plain record
/// of numbers and strings, so that it can be stored beside the weights and rebuild the same network.
/// </summary>
public sealed record LieResNetOptions
{
    /// <summary>The symmetry group, as a spec such as <c>SE3(.2)</c> (see <see cref="Groups.LieGroup.Parse"/>).</summary>
    public string Group { get; init; } = "SE3(.2)";

    /// <summary>Features per input point.</summary>
    public int InputChannels { get; init; } = 1;

    /// <summary>Outputs per cloud (or per point without pooling).</summary>
    public int Outputs { get; init; } = 1;

    /// <summary>Width k of every stage; see <see cref="ChannelsPerStage"/>.</summary>
    public int Channels { get; init; } = 1536;

    /// <summary>Widths of the Layers + 1 stages (input projection, then each block's output); overrides <see cref="Channels"/>.</summary>
    public IReadOnlyList<int>? ChannelsPerStage { get; init; }

    /// <summary>Number of bottleneck blocks.</summary>
    public int Layers { get; init; } = 6;

    /// <summary>Neighbours per query point ("nbhd"); <see cref="long.MaxValue"/> means every point.</summary>
    public long Neighbourhood { get; init; } = long.MaxValue;

    /// <summary>Target ball fill fraction of every layer; see <see cref="FillPerLayer"/>.</summary>
    public double Fill { get; init; } = 0.25;

    /// <summary>Fill fraction of each layer; overrides <see cref="Fill"/>.</summary>
    public IReadOnlyList<double>? FillPerLayer { get; init; }

    /// <summary>Fraction of points each block keeps ("ds_frac"), by farthest point subsampling.</summary>
    public double Downsample { get; init; } = 1;

    /// <summary>The nonlinearity.</summary>
    public Activation Activation { get; init; } = Activation.Swish;

    /// <summary>Masked batch norm in the blocks and kernel networks.</summary>
    public bool BatchNorm { get; init; } = true;

    /// <summary>Average (rather than sum) over neighbours and in the global pool.</summary>
    public bool Mean { get; init; } = true;

    /// <summary>Pool to one output vector per cloud; otherwise return per-point outputs.</summary>
    public bool Pool { get; init; } = true;

    /// <summary>Group elements per input point.</summary>
    public int LiftSamples { get; init; } = 1;

    /// <summary>k-nearest-neighbour neighbourhoods instead of random subsets of adaptive balls.</summary>
    public bool Knn { get; init; }

    /// <summary>
    /// Seed of the draws (lifts, subsampling starts, neighbourhoods) in evaluation mode, which makes predictions
    /// reproducible and independent of batching; null draws randomly as the original does (reference §7.8).
    /// </summary>
    public long? EvaluationSeed { get; init; } = 0;

    /// <summary>The stage widths after applying the defaults.</summary>
    public IReadOnlyList<int> StageWidths => ChannelsPerStage ?? Enumerable.Repeat(Channels, Layers + 1).ToArray();

    /// <summary>The per-layer fill fractions after applying the defaults.</summary>
    public IReadOnlyList<double> LayerFills => FillPerLayer ?? Enumerable.Repeat(Fill, Layers).ToArray();

    /// <summary>Throws if the options cannot build a network.</summary>
    public void Validate()
    {
        void Require(bool ok, string name, object? value, string what)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, what);
        }
        Require(InputChannels >= 1, nameof(InputChannels), InputChannels, "At least one input feature is needed.");
        Require(Outputs >= 1, nameof(Outputs), Outputs, "At least one output is needed.");
        Require(Layers >= 0, nameof(Layers), Layers, "The number of layers cannot be negative.");
        Require(StageWidths.Count == Layers + 1, nameof(ChannelsPerStage), StageWidths.Count, $"Give Layers + 1 = {Layers + 1} widths.");
        Require(LayerFills.Count == Layers, nameof(FillPerLayer), LayerFills.Count, $"Give one fill per layer ({Layers}).");
        Require(StageWidths.All(w => w >= 4), nameof(Channels), string.Join(",", StageWidths), "Widths must be at least 4 (blocks use width/4).");
        Require(StageWidths.Zip(StageWidths.Skip(1)).All(p => p.First <= p.Second), nameof(ChannelsPerStage), string.Join(",", StageWidths), "Widths cannot decrease from stage to stage.");
        Require(LayerFills.All(f => f > 0 && double.IsFinite(f)), nameof(Fill), string.Join(",", LayerFills), "Fill fractions must be positive.");
        Require(Neighbourhood >= 1, nameof(Neighbourhood), Neighbourhood, "At least one neighbour is needed.");
        Require(Downsample > 0 && Downsample <= 1, nameof(Downsample), Downsample, "The kept fraction must be in (0, 1].");
        Require(LiftSamples >= 1, nameof(LiftSamples), LiftSamples, "At least one lift sample is needed.");
    }
}
