using LieConv.Groups;
using LieConv.Nn;
using static TorchSharp.torch;

namespace LieConv.Models;

/// <summary>A padded batch of molecules.</summary>
/// <param name="Positions">(B, N, 3) atom positions.</param>
/// <param name="Charges">(B, N) atomic numbers Z, 0 for padding.</param>
public sealed record MoleculeBatch(Tensor Positions, Tensor Charges);

/// <summary>Hyper-parameters of <see cref="MoleculeLieResNet"/> (reference §3.6, §5.3); the defaults are the QM9 recipe's.</summary>
public sealed record MoleculeLieResNetOptions
{
    /// <summary>The atomic numbers that occur (QM9: H, C, N, O, F).</summary>
    public IReadOnlyList<int> Species { get; init; } = new[] { 1, 6, 7, 8, 9 };
    /// <summary>Charges are divided by this before taking powers (the largest Z).</summary>
    public double ChargeScale { get; init; } = 9;
    /// <summary>Random translation and rotation of every molecule while training (T3 then SO3 augmentation).</summary>
    public bool Augment { get; init; } = true;
    /// <summary>The symmetry group spec.</summary>
    public string Group { get; init; } = "T(3)";
    /// <summary>Width k.</summary>
    public int Channels { get; init; } = 1536;
    /// <summary>Neighbours per atom.</summary>
    public long Neighbourhood { get; init; } = 100;
    /// <summary>Number of bottleneck blocks.</summary>
    public int Layers { get; init; } = 6;
    /// <summary>Target ball fill.</summary>
    public double Fill { get; init; } = 0.25;
    /// <summary>Group elements per atom.</summary>
    public int LiftSamples { get; init; } = 1;
    /// <summary>Masked batch norm.</summary>
    public bool BatchNorm { get; init; } = true;
    /// <summary>Average over neighbours and atoms.</summary>
    public bool Mean { get; init; } = true;
    /// <summary>k-nearest-neighbour neighbourhoods.</summary>
    public bool Knn { get; init; }
    /// <summary>The nonlinearity.</summary>
    public Activation Activation { get; init; } = Activation.Swish;
    /// <summary>Seed of evaluation-mode draws (null: random, as the original).</summary>
    public long? EvaluationSeed { get; init; } = 0;

    /// <summary>The generic network these options describe: 3 features per species, one output.</summary>
    public LieResNetOptions ToLieResNetOptions() => new()
    {
        Group = Group,
        InputChannels = 3 * Species.Count,
        Outputs = 1,
        Channels = Channels,
        Layers = Layers,
        Neighbourhood = Neighbourhood,
        Fill = Fill,
        LiftSamples = LiftSamples,
        BatchNorm = BatchNorm,
        Mean = Mean,
        Knn = Knn,
        Activation = Activation,
        EvaluationSeed = EvaluationSeed,
    };
}

/// <summary>
/// LieResNet on molecules (reference §3.6): each atom is a point with features onehot(species) ⊗ (1, c, c²),
/// c = Z / charge scale; padding atoms have Z = 0. Predicts one scalar per molecule.
/// </summary>
public sealed class MoleculeLieResNet : nn.Module<MoleculeBatch, Tensor>
{
    private readonly LieResNet body;
    private readonly Tensor species;

    /// <summary>Builds the network that <paramref name="options"/> describe.</summary>
    public MoleculeLieResNet(MoleculeLieResNetOptions options) : base(nameof(MoleculeLieResNet))
    {
        if (options.Species.Count == 0) throw new ArgumentException("At least one species is needed.", nameof(options));
        Options = options;
        body = new LieResNet(options.ToLieResNetOptions());
        species = tensor(options.Species.Select(z => (float)z).ToArray());
        RegisterComponents();
    }

    /// <summary>The options the network was built from.</summary>
    public MoleculeLieResNetOptions Options { get; }

    /// <summary>The underlying generic network.</summary>
    public LieResNet Body => body;

    /// <summary>One prediction per molecule, (B).</summary>
    public override Tensor forward(MoleculeBatch batch)
    {
        var (positions, charges) = (batch.Positions, batch.Charges.to(batch.Positions.dtype));
        var mask = charges > 0;
        var features = Featurize(charges);
        if (training && Options.Augment) positions = Augment(positions);
        return body.forward(new PointCloudBatch(positions, features, mask)).squeeze(-1);
    }

    /// <summary>Per-atom features (B, N, 3·species): onehot(Z) ⊗ (1, Z/scale, (Z/scale)²), species-major.</summary>
    public Tensor Featurize(Tensor charges)
    {
        using var noGrad = no_grad();
        var onehot = (charges.unsqueeze(-1) == species.to(charges.dtype, charges.device)).to(charges.dtype);   // (B, N, S)
        var c = (charges / Options.ChargeScale).unsqueeze(-1);
        var powers = cat(new[] { ones_like(c), c, c.square() }, -1);                                      // (B, N, 3)
        return (onehot.unsqueeze(-1) * powers.unsqueeze(-2)).flatten(-2);
    }

    /// <summary>Translates each molecule by 0.5·N(0, I) and rotates it about the origin by a Haar-random rotation.</summary>
    public static Tensor Augment(Tensor positions) => PointCloudAugmentations.Apply(PointCloudAugmentation.SE3, positions);
}
