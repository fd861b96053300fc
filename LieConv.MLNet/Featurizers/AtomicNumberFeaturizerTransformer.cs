using LieConv.MLNet;
using LieConv.MLNet.Data;
using LieConv.MLNet.MlNet;
using LieConv.Models;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(AtomicNumberFeaturizerTransformer), null, typeof(SignatureLoadModel),
    "Atomic Number Featurizer Transformer", AtomicNumberFeaturizerTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(AtomicNumberFeaturizerTransformer), null, typeof(SignatureLoadRowMapper),
    "Atomic Number Featurizer Transformer", AtomicNumberFeaturizerTransformer.LoaderSignature)]

namespace LieConv.MLNet;

/// <summary>
/// Turns the atomic numbers of a molecule's atoms into the per-atom features of the original's molecule network
/// (reference §3.6): with c = Z / <see cref="ChargeScale"/>, onehot(Z over <see cref="Species"/>) ⊗ (1, c, c²),
/// species-major — 3·S features per atom, the layout the LieConv trainers read beside the atom positions.
/// </summary>
public sealed class AtomicNumberFeaturizerTransformer : FeaturizerTransformerBase
{
    internal const string LoaderSignature = "LieConvAtomFeatures";

    internal AtomicNumberFeaturizerTransformer(IHostEnvironment env, AtomicNumberFeaturizerEstimator.Options options)
        : base(env, nameof(AtomicNumberFeaturizerTransformer))
    {
        Host.CheckUserArg(!string.IsNullOrEmpty(options.InputColumnName), nameof(options.InputColumnName));
        Host.CheckUserArg(!string.IsNullOrEmpty(options.OutputColumnName), nameof(options.OutputColumnName));
        Host.CheckUserArg(options.Species is { Length: > 0 }, nameof(options.Species), "At least one species is needed.");
        Host.CheckUserArg(options.Species.All(z => z >= 1), nameof(options.Species), "Atomic numbers are positive.");
        Host.CheckUserArg(options.Species.Distinct().Count() == options.Species.Length, nameof(options.Species), "Each species may appear once.");
        Host.CheckUserArg(options.ChargeScale > 0 && double.IsFinite(options.ChargeScale), nameof(options.ChargeScale), "The charge scale must be positive and finite.");
        InputColumnName = options.InputColumnName;
        OutputColumnName = options.OutputColumnName;
        Species = options.Species.ToArray();
        ChargeScale = options.ChargeScale;
    }

    /// <summary>The atomic numbers column read: one Single per atom.</summary>
    public string InputColumnName { get; }

    /// <summary>The features column written: 3·S Singles per atom.</summary>
    public string OutputColumnName { get; }

    /// <summary>The atomic numbers the one-hot encoding distinguishes, in order; any other atom is an error.</summary>
    public IReadOnlyList<int> Species { get; }

    /// <summary>c = Z / ChargeScale.</summary>
    public double ChargeScale { get; }

    /// <summary>Features per atom, 3·S.</summary>
    public int FeaturesPerAtom => MoleculeFeatures.FeaturesPerAtom(Species.Count);

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "LIECVATM",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(AtomicNumberFeaturizerTransformer).Assembly.FullName,
        loaderSignature: LoaderSignature);

    internal override void SaveModel(ModelSaveContext ctx)
    {
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveNonEmptyString(InputColumnName);
        ctx.SaveNonEmptyString(OutputColumnName);
        ctx.Writer.Write(Species.Count);
        foreach (int z in Species)
            ctx.Writer.Write(z);
        ctx.Writer.Write(ChargeScale);
    }

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadModel).
    private static AtomicNumberFeaturizerTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        env.CheckValue(ctx, nameof(ctx));
        ModelVersions.Check(ctx, GetVersionInfo(), "atomic-number featurizer");
        string input = ctx.LoadNonEmptyString(), output = ctx.LoadNonEmptyString();
        int count = ctx.Reader.ReadInt32();
        if (count is < 1 or > 256)
            throw new FormatException($"model.zip: the atomic number featurizer stores {count} species; expected 1 to 256.");
        var species = Enumerable.Range(0, count).Select(_ => ctx.Reader.ReadInt32()).ToArray();
        return new AtomicNumberFeaturizerTransformer(env, new AtomicNumberFeaturizerEstimator.Options
        {
            InputColumnName = input,
            OutputColumnName = output,
            Species = species,
            ChargeScale = ctx.Reader.ReadDouble(),
        });
    }

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadRowMapper).
    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeMapper(inputSchema);

    private protected override IRowMapper MakeMapper(DataViewSchema inputSchema)
        => new Mapper(this, SchemaChecks.SingleVector(Host, inputSchema, InputColumnName, "atomic numbers"));

    private sealed class Mapper(AtomicNumberFeaturizerTransformer parent, DataViewSchema.Column input) : MapperBase(parent, input)
    {
        public override DataViewSchema.DetachedColumn[] GetOutputColumns() =>
            [new(parent.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, 0, parent.FeaturesPerAtom))];

        protected override float[][] Map(ReadOnlySpan<float> charges, long row)
        {
            if (charges.Length == 0)
                throw PointCloudChecks.BadRow(Input.Name, row, "is an empty molecule", "at least one atomic number");
            var features = new float[charges.Length * parent.FeaturesPerAtom];
            try
            {
                MoleculeFeatures.Featurize(charges, parent.Species, parent.ChargeScale, features);
            }
            catch (ArgumentException e)
            {
                throw PointCloudChecks.BadRow(Input.Name, row, e.Message.Split(';')[0].TrimEnd('.'),
                    $"atomic numbers among the species {string.Join(", ", parent.Species)}");
            }
            return [features];
        }
    }
}
