using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using LieConv.Groups;
using LieConv.Nn;

namespace LieConv.Models.Dynamics;

/// <summary>
/// Everything that shapes a dynamics network (reference §3.7, §3.8): which network and its hyper-parameters. A plain
/// record of numbers and strings that round-trips through <see cref="ToJson"/>/<see cref="FromJson"/>, so that it can
/// be stored beside the weights and rebuild the same network with <see cref="Create"/>.
/// </summary>
/// <remarks>
/// Unset <see cref="Channels"/> and <see cref="Layers"/> take the original's per-network defaults (FC k 300, HFC k 150,
/// the LieResNets k 384, the graph networks k 64; 4 layers, the graph networks 1). Unlike the original's FC, which
/// hard-codes 6 particles, every network takes n from <see cref="Particles"/>.
/// </remarks>
public sealed record DynamicsNetworkOptions
{
    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Which network.</summary>
    public DynamicsNetworkKind Network { get; init; } = DynamicsNetworkKind.FC;

    /// <summary>Particles per system, n.</summary>
    public int Particles { get; init; } = 6;

    /// <summary>Space dimension d.</summary>
    public int Dimension { get; init; } = 2;

    /// <summary>Parameters per particle (sys_dim): the first is the mass, which the known kinetic energy uses.</summary>
    public int SystemDimension { get; init; } = 2;

    /// <summary>Width k; null takes the network's default (see the remarks).</summary>
    public int? Channels { get; init; }

    /// <summary>Hidden layers (MLP layers, bottleneck blocks or graph-network layers); null takes the network's default.</summary>
    public int? Layers { get; init; }

    /// <summary>
    /// The LieResNets' symmetry group, e.g. <c>T(2)</c>, <c>Trivial(2)</c>, <c>SO2()</c>; a bare name such as <c>SO2</c>
    /// means the group with its default arguments.
    /// </summary>
    public string Group { get; init; } = "T(2)";

    /// <summary>The LieResNets' neighbourhood size (nbhd).</summary>
    public long Neighbourhood { get; init; } = 100;

    /// <summary>The LieResNets' ball fill fraction (forced to 1 in the original's HLieResNet).</summary>
    public double Fill { get; init; } = 1.0;

    /// <summary>The LieResNets' k-nearest-neighbour mode.</summary>
    public bool Knn { get; init; }

    /// <summary>Mean (rather than sum) over neighbours and particles in the LieResNets.</summary>
    public bool Mean { get; init; } = true;

    /// <summary>Masked batch norm in the LieResNets (off in the original's HLieResNet).</summary>
    public bool BatchNorm { get; init; }

    /// <summary>Group elements per particle in the LieResNets.</summary>
    public int LiftSamples { get; init; } = 1;

    /// <summary>The nonlinearity of every network.</summary>
    public Activation Activation { get; init; } = Activation.Swish;

    /// <summary>
    /// Subtract the particles' mean position before the network sees the positions (the original's center=True). The
    /// original, and this port, take the plain unweighted mean, not the centre of mass (reference §7.15): either makes
    /// the model translation invariant, and the plain mean is what the original's weights were trained with.
    /// </summary>
    public bool Center { get; init; } = true;

    /// <summary>The LieResNets' evaluation seed (see <see cref="LieResNetOptions.EvaluationSeed"/>).</summary>
    public long? EvaluationSeed { get; init; } = 0;

    /// <summary>The width in effect.</summary>
    [JsonIgnore]
    public int EffectiveChannels => Channels ?? Network switch
    {
        DynamicsNetworkKind.FC => 300,
        DynamicsNetworkKind.HFC => 150,
        DynamicsNetworkKind.HLieResNet or DynamicsNetworkKind.FLieResNet => 384,
        _ => 64,
    };

    /// <summary>The number of layers in effect.</summary>
    [JsonIgnore]
    public int EffectiveLayers => Layers ?? Network switch
    {
        DynamicsNetworkKind.OGN or DynamicsNetworkKind.HOGN or DynamicsNetworkKind.VOGN => 1,
        _ => 4,
    };

    /// <summary>Whether the network's field is the symplectic gradient of an energy (HFC, HLieResNet, HOGN, VOGN).</summary>
    [JsonIgnore]
    public bool IsHamiltonian => Network is DynamicsNetworkKind.HFC or DynamicsNetworkKind.HLieResNet
        or DynamicsNetworkKind.HOGN or DynamicsNetworkKind.VOGN;

    /// <summary>The state size 2·n·d.</summary>
    [JsonIgnore]
    public int StateSize => 2 * Particles * Dimension;

    /// <summary>Parses a network name as the original's scripts write it (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is none of FC, HFC, HLieResNet, FLieResNet, OGN, HOGN, VOGN.</exception>
    public static DynamicsNetworkKind ParseNetwork(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        // FLieResnet is the original's class name; accept its spelling too.
        if (Enum.TryParse<DynamicsNetworkKind>(name.Trim(), ignoreCase: true, out var kind) && Enum.IsDefined(kind)
            && !int.TryParse(name, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
            return kind;
        throw new ArgumentException($"Unknown dynamics network '{name}'; expected one of {string.Join(", ", Enum.GetNames<DynamicsNetworkKind>())}.", nameof(name));
    }

    /// <summary>Throws if the options cannot build a network, naming the first bad setting.</summary>
    public void Validate()
    {
        void Require(bool ok, string name, object? value, string what)
        {
            if (!ok) throw new ArgumentOutOfRangeException(name, value, what);
        }
        Require(Enum.IsDefined(Network), nameof(Network), Network, "Unknown network.");
        Require(Particles >= 1, nameof(Particles), Particles, "At least one particle is needed.");
        Require(Dimension >= 1, nameof(Dimension), Dimension, "The dimension must be at least 1.");
        Require(SystemDimension >= 1, nameof(SystemDimension), SystemDimension, "At least the mass is needed per particle.");
        Require(EffectiveChannels >= 1, nameof(Channels), EffectiveChannels, "The width must be at least 1.");
        Require(EffectiveLayers >= 1, nameof(Layers), EffectiveLayers, "At least one layer is needed.");
        Require(Enum.IsDefined(Activation), nameof(Activation), Activation, "Unknown activation.");
        if (Network is DynamicsNetworkKind.HLieResNet or DynamicsNetworkKind.FLieResNet)
        {
            Require(EffectiveChannels >= 4, nameof(Channels), EffectiveChannels, "LieResNet widths must be at least 4 (blocks use width/4).");
            Require(Network != DynamicsNetworkKind.FLieResNet || LiftSamples == 1, nameof(LiftSamples), LiftSamples,
                "FLieResNet outputs one (q̇, ṗ) per particle, so it needs exactly one lift sample.");
            LieGroup group;
            try
            {
                group = LieGroup.Parse(GroupSpec);
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                throw new ArgumentOutOfRangeException(nameof(Group), Group, e.Message);
            }
            Require(group.SpaceDim == Dimension, nameof(Group), Group, $"The group acts on {group.SpaceDim}-dimensional points; the particles live in d = {Dimension}.");
            LieResNetOptions(1, 1, pool: true).Validate();
        }
    }

    /// <summary>Builds the network these options describe (fresh weights from libtorch's generator).</summary>
    public DynamicsNetwork Create()
    {
        Validate();
        return Network switch
        {
            DynamicsNetworkKind.FC => new FC(this),
            DynamicsNetworkKind.HFC => new HFC(this),
            DynamicsNetworkKind.HLieResNet => new HLieResNet(this),
            DynamicsNetworkKind.FLieResNet => new FLieResNet(this),
            DynamicsNetworkKind.OGN => new OGN(this),
            DynamicsNetworkKind.HOGN => new HOGN(this),
            DynamicsNetworkKind.VOGN => new VOGN(this),
            _ => throw new ArgumentOutOfRangeException(nameof(Network), Network, "Unknown network."),
        };
    }

    /// <summary>The options as one line of JSON (enums by name).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads options written by <see cref="ToJson"/> and validates them.</summary>
    /// <exception cref="FormatException">The text is not such JSON, or the options are invalid.</exception>
    public static DynamicsNetworkOptions FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        DynamicsNetworkOptions? options;
        try
        {
            options = JsonSerializer.Deserialize<DynamicsNetworkOptions>(json, Json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"Not a dynamics network spec: {e.Message}", e);
        }
        if (options is null) throw new FormatException("Not a dynamics network spec: the JSON is null.");
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"The dynamics network spec is invalid: {e.Message}", e);
        }
        return options;
    }

    /// <summary><see cref="Group"/> with "()" appended to a bare name, as <see cref="LieGroup.Parse"/> expects.</summary>
    [JsonIgnore]
    public string GroupSpec => Group.Contains('(', StringComparison.Ordinal) ? Group.Trim() : Group.Trim() + "()";

    /// <summary>The LieResNet of HLieResNet/FLieResNet (reference §3.7: ds_frac 1, no caching, one network output per particle or system).</summary>
    internal LieResNetOptions LieResNetOptions(int inputChannels, int outputs, bool pool) => new()
    {
        Group = GroupSpec,
        InputChannels = inputChannels,
        Outputs = outputs,
        Channels = EffectiveChannels,
        Layers = EffectiveLayers,
        Neighbourhood = Neighbourhood,
        Fill = Fill,
        Downsample = 1,
        Activation = Activation,
        BatchNorm = BatchNorm,
        Mean = Mean,
        Pool = pool,
        LiftSamples = LiftSamples,
        Knn = Knn,
        EvaluationSeed = EvaluationSeed,
    };
}
