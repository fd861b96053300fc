using System.CommandLine;
using System.Globalization;
using LieConv.MLNet;
using LieConv.Nn;

namespace LieConv.Samples;

/// <summary>The network settings of a sample run, as the original's <c>net_config</c> names them (reference §3.4, §5.3).</summary>
/// <param name="Group">group, e.g. SE2(.05).</param>
/// <param name="K">k, the width.</param>
/// <param name="Nbhd">nbhd, neighbours per point.</param>
/// <param name="Fill">fill of the first layer.</param>
/// <param name="TotalDs">total_ds, the fraction of points left after all blocks.</param>
/// <param name="NumLayers">num_layers.</param>
/// <param name="LiftSamples">liftsamples.</param>
/// <param name="Knn">knn.</param>
/// <param name="BatchNorm">bn.</param>
/// <param name="Mean">mean.</param>
/// <param name="Activation">act.</param>
public sealed record NetworkSettings(string Group, int K, int Nbhd, double Fill, double TotalDs, int NumLayers, int LiftSamples,
    bool Knn = false, bool BatchNorm = true, bool Mean = true, Activation Activation = Activation.Swish)
{
    /// <summary>Copies the settings into a trainer's options.</summary>
    public void ApplyTo(LieConvTrainerOptionsBase options)
    {
        options.Group = Group;
        options.Channels = K;
        options.Neighbourhood = Nbhd;
        options.Fill = Fill;
        options.TotalDownsampling = TotalDs;
        options.Layers = NumLayers;
        options.LiftSamples = LiftSamples;
        options.Knn = Knn;
        options.BatchNorm = BatchNorm;
        options.Mean = Mean;
        options.Activation = Activation;
    }

    /// <summary>These settings with the entries of an original <c>net_config</c> dict merged over them (as the original merges).</summary>
    /// <exception cref="FormatException">A key is unknown or a value does not parse.</exception>
    public NetworkSettings Merge(IReadOnlyDictionary<string, string> config)
    {
        var s = this;
        foreach (var (key, value) in config)
        {
            s = key switch
            {
                "group" => s with { Group = value },
                "k" => s with { K = (int)OriginalSyntax.ParseNumber(value) },
                "nbhd" => s with { Nbhd = (int)OriginalSyntax.ParseNumber(value) },
                "fill" => s with { Fill = OriginalSyntax.ParseNumber(value) },
                "total_ds" => s with { TotalDs = OriginalSyntax.ParseNumber(value) },
                "num_layers" => s with { NumLayers = (int)OriginalSyntax.ParseNumber(value) },
                "liftsamples" => s with { LiftSamples = (int)OriginalSyntax.ParseNumber(value) },
                "knn" => s with { Knn = OriginalSyntax.ParseBool(value) },
                "bn" => s with { BatchNorm = OriginalSyntax.ParseBool(value) },
                "mean" => s with { Mean = OriginalSyntax.ParseBool(value) },
                "act" => s with { Activation = ParseActivation(value) },
                // Fixed in our networks (the image recipe's channel growth, the molecule recipe's augmentation flag).
                "increase_channels" or "cache" or "aug" => s,
                _ => throw new FormatException($"net_config key '{key}' is not known; expected group, k, nbhd, fill, total_ds, num_layers, liftsamples, knn, bn, mean or act."),
            };
        }
        return s;
    }

    /// <summary>An activation by the original's name (swish, relu, softplus).</summary>
    public static Activation ParseActivation(string name) => Enum.TryParse<Activation>(name.Trim('\'', '"'), ignoreCase: true, out var a)
        ? a
        : throw new FormatException($"Activation '{name}' is not known; expected one of {string.Join(", ", Enum.GetNames<Activation>())}.");
}

/// <summary>
/// The command-line options every sample shares, with our names and the original scripts' spellings as aliases, so a
/// command from the original README can be pasted (README: "From the original commands").
/// </summary>
public sealed class SampleOptions
{
    /// <summary>Creates the options with a sample's defaults.</summary>
    public SampleOptions(int epochs, int batchSize, double learningRate, int trainSize, int testSize, string output)
    {
        Epochs = new("--epochs", "--num_epochs") { Description = "Passes over the training set.", DefaultValueFactory = _ => epochs };
        BatchSize = new("--batch-size", "--bs") { Description = "Examples per optimiser step.", DefaultValueFactory = _ => batchSize };
        LearningRate = new("--lr") { Description = "Adam's base learning rate (cosine schedule).", DefaultValueFactory = _ => learningRate };
        TrainSize = new("--train-size") { Description = "Training examples to use (the first ones).", DefaultValueFactory = _ => trainSize };
        TestSize = new("--test-size") { Description = "Test examples to use (the first ones).", DefaultValueFactory = _ => testSize };
        Output = new("--out") { Description = "Folder for model.zip, plots and the result.", DefaultValueFactory = _ => output };
    }

    /// <summary>--epochs (--num_epochs).</summary>
    public Option<int> Epochs { get; }

    /// <summary>--batch-size (--bs).</summary>
    public Option<int> BatchSize { get; }

    /// <summary>--lr.</summary>
    public Option<double> LearningRate { get; }

    /// <summary>--train-size.</summary>
    public Option<int> TrainSize { get; }

    /// <summary>--test-size.</summary>
    public Option<int> TestSize { get; }

    /// <summary>--out.</summary>
    public Option<string> Output { get; }

    /// <summary>--data: real data instead of the built-in or generated set.</summary>
    public Option<string?> Data { get; } = new("--data") { Description = "Real data (see the sample's help)." };

    /// <summary>--device.</summary>
    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };

    /// <summary>--seed.</summary>
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of weights, shuffling, augmentation and sampling.", DefaultValueFactory = _ => 0 };

    /// <summary>--threads.</summary>
    public Option<int?> Threads { get; } = new("--threads") { Description = "libtorch threads (default: libtorch's choice)." };

    /// <summary>--group.</summary>
    public Option<string?> Group { get; } = new("--group") { Description = "Symmetry group, e.g. T(2), SO2(.2), SE2(.05), T(3), SE3(.2)." };

    /// <summary>--k.</summary>
    public Option<int?> K { get; } = new("--k") { Description = "Network width k." };

    /// <summary>--nbhd.</summary>
    public Option<int?> Nbhd { get; } = new("--nbhd") { Description = "Neighbours per point." };

    /// <summary>--fill (a number or fraction such as 1/2).</summary>
    public Option<string?> Fill { get; } = new("--fill") { Description = "Ball fill of the first layer (e.g. 0.1 or 1/2)." };

    /// <summary>--total-ds (--total_ds).</summary>
    public Option<string?> TotalDs { get; } = new("--total-ds", "--total_ds") { Description = "Fraction of points left after all blocks (e.g. 0.1)." };

    /// <summary>--num-layers (--num_layers).</summary>
    public Option<int?> NumLayers { get; } = new("--num-layers", "--num_layers") { Description = "Bottleneck blocks." };

    /// <summary>--lift-samples (--liftsamples).</summary>
    public Option<int?> LiftSamples { get; } = new("--lift-samples", "--liftsamples") { Description = "Group elements per input point." };

    /// <summary>--knn.</summary>
    public Option<bool?> Knn { get; } = new("--knn") { Description = "k-nearest-neighbour neighbourhoods (True/False)." };

    /// <summary>--aug.</summary>
    public Option<bool?> Augment { get; } = new("--aug") { Description = "Augment training examples (True/False)." };

    /// <summary>--net-config (--net_config, and train_springs's --net_cfg): the original's dict, merged over the defaults.</summary>
    public Option<string?> NetConfig { get; } = new("--net-config", "--net_config", "--net_cfg") { Description = "The original's dict, e.g. \"{'k':128,'group':SE2(.05),'liftsamples':2}\"." };

    /// <summary>--split: the original's split-size dict, e.g. {'train':12000}.</summary>
    public Option<string?> Split { get; } = new("--split") { Description = "The original's split sizes, e.g. \"{'train':12000}\"." };

    /// <summary>Adds every option to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Epochs, BatchSize, LearningRate, TrainSize, TestSize, Output, Data, Device, Seed, Threads,
                     Group, K, Nbhd, Fill, TotalDs, NumLayers, LiftSamples, Knn, Augment, NetConfig, Split })
            command.Options.Add(option);
    }

    /// <summary>The network settings: <paramref name="defaults"/>, then --net-config merged over them, then the individual flags.</summary>
    public NetworkSettings Network(ParseResult result, NetworkSettings defaults)
    {
        var s = result.GetValue(NetConfig) is string config ? defaults.Merge(OriginalSyntax.ParseDict(config)) : defaults;
        if (result.GetValue(Group) is string group) s = s with { Group = group };
        if (result.GetValue(K) is int k) s = s with { K = k };
        if (result.GetValue(Nbhd) is int nbhd) s = s with { Nbhd = nbhd };
        if (result.GetValue(Fill) is string fill) s = s with { Fill = OriginalSyntax.ParseNumber(fill) };
        if (result.GetValue(TotalDs) is string ds) s = s with { TotalDs = OriginalSyntax.ParseNumber(ds) };
        if (result.GetValue(NumLayers) is int layers) s = s with { NumLayers = layers };
        if (result.GetValue(LiftSamples) is int lifts) s = s with { LiftSamples = lifts };
        if (result.GetValue(Knn) is bool knn) s = s with { Knn = knn };
        return s;
    }

    /// <summary>A split size: --split's entry <paramref name="key"/> when given, else <paramref name="option"/>.</summary>
    public int SplitSize(ParseResult result, string key, Option<int> option)
    {
        if (result.GetResult(option) is { Implicit: false })
            return result.GetValue(option);
        if (result.GetValue(Split) is string split && OriginalSyntax.ParseDict(split).TryGetValue(key, out var value))
            return (int)OriginalSyntax.ParseNumber(value);
        return result.GetValue(option);
    }

    /// <summary>Formats a number for the console in the invariant culture.</summary>
    public static string Format(double value) => value.ToString("G4", CultureInfo.InvariantCulture);
}
