using LieConv.MLNet.MlNet;
using LieConv.Models;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// The estimator of <see cref="AtomicNumberFeaturizerTransformer"/>: nothing is learned, so <see cref="Fit"/> only
/// checks the input column. Create it with <c>mlContext.Transforms.FeaturizeAtomicNumbers(...)</c>.
/// </summary>
public sealed class AtomicNumberFeaturizerEstimator : IEstimator<AtomicNumberFeaturizerTransformer>
{
    /// <summary>Settings of <see cref="AtomicNumberFeaturizerEstimator"/>.</summary>
    public sealed class Options
    {
        /// <summary>The atomic numbers column: one Single per atom, in the order of the atoms' points.</summary>
        public string InputColumnName = "Charges";

        /// <summary>The features column written.</summary>
        public string OutputColumnName = "Features";

        /// <summary>The species, as atomic numbers; QM9's H, C, N, O, F by default.</summary>
        public int[] Species = MoleculeFeatures.Qm9Species.ToArray();

        /// <summary>c = Z / ChargeScale; QM9's 9 (fluorine) by default.</summary>
        public double ChargeScale = MoleculeFeatures.Qm9ChargeScale;
    }

    private readonly IHost _host;
    private readonly Options _options;

    internal AtomicNumberFeaturizerEstimator(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        _host = env.Register(nameof(AtomicNumberFeaturizerEstimator));
        _options = options;
        // Builds (and so checks) a transformer now, so bad settings fail where the pipeline is written.
        _ = new AtomicNumberFeaturizerTransformer(env, options);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        SchemaChecks.SingleVector(_host, inputSchema, _options.InputColumnName, "atomic numbers");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[_options.OutputColumnName] = new(_options.OutputColumnName, SchemaShape.Column.VectorKind.VariableVector, NumberDataViewType.Single, false);
        return new SchemaShape(columns.Values);
    }

    /// <summary>Checks <paramref name="input"/>'s atomic numbers column and returns the transformer.</summary>
    public AtomicNumberFeaturizerTransformer Fit(IDataView input)
    {
        _host.CheckValue(input, nameof(input));
        GetOutputSchema(SchemaShape.Create(input.Schema));
        return new AtomicNumberFeaturizerTransformer(_host, _options);
    }
}
