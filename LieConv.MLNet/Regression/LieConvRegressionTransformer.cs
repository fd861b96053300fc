using LieConv.MLNet;
using LieConv.MLNet.MlNet;
using LieConv.Models;
using LieConv.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(LieConvRegressionTransformer), null, typeof(SignatureLoadModel),
    "LieConv Regression Transformer", LieConvRegressionTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(LieConvRegressionTransformer), null, typeof(SignatureLoadRowMapper),
    "LieConv Regression Transformer", LieConvRegressionTransformer.LoaderSignature)]

namespace LieConv.MLNet;

/// <summary>
/// A trained LieConv point-cloud regressor: adds a Single <c>Score</c> column, the network's output mapped back to the
/// label's units (y·σ + μ), annotated so that <c>Regression.Evaluate</c> works (mlnet-conventions.md §5, §8).
/// Saved and loaded by <c>mlContext.Model</c>.
/// </summary>
public sealed class LieConvRegressionTransformer : LieConvTransformerBase
{
    internal const string LoaderSignature = "LieConvRegressionXf";

    internal LieConvRegressionTransformer(IHostEnvironment env, LieResNet model, Device device, LieConvInputs inputs,
        string scoreColumn, TargetScaling labelScaling)
        : base(env, nameof(LieConvRegressionTransformer), model, device, inputs, scoreColumn)
    {
        LabelScaling = labelScaling;
    }

    /// <summary>The training labels' mean μ and standard deviation σ; the score is the network's output·σ + μ.</summary>
    public TargetScaling LabelScaling { get; }

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "LIECVREG",
        verWrittenCur: 0x00010002, // MaxPoints and the weights' SHA-256
        verReadableCur: 0x00010002,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(LieConvRegressionTransformer).Assembly.FullName,
        loaderSignature: LoaderSignature);

    private protected override VersionInfo GetVersion() => GetVersionInfo();

    private protected override void SaveState(ModelSaveContext ctx)
    {
        ctx.Writer.Write(LabelScaling.Mean);
        ctx.Writer.Write(LabelScaling.Std);
    }

    private protected override IRowMapper MakeMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadModel).
    private static LieConvRegressionTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        env.CheckValue(ctx, nameof(ctx));
        ModelVersions.Check(ctx, GetVersionInfo(), "LieConv regression transformer");

        string points = ctx.LoadNonEmptyString();
        string? features = ctx.LoadStringOrNull();
        string score = ctx.LoadNonEmptyString();
        var (spaceDimension, channels, spec) = LieConvNetworkSettings.Load(ctx);
        double mean = ctx.Reader.ReadDouble(), std = ctx.Reader.ReadDouble();
        TargetScaling scaling;
        try
        {
            scaling = new TargetScaling(mean, std);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new FormatException($"model.zip: the stored label standardisation of the LieConv regression transformer is invalid ({e.Message}).", e);
        }
        var (model, maxPoints) = LieConvNetworkSettings.LoadWeights(ctx, spec, "regression");
        try
        {
            return new LieConvRegressionTransformer(env, model, env.ResolveContextDevice(),
                new LieConvInputs(points, features, spaceDimension, channels, maxPoints), score, scaling);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadRowMapper), when a saved
    // RowToRowMapperTransform (a transformed data view) is loaded.
    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => new Mapper(Create(env, ctx), inputSchema);

    private sealed class Mapper(LieConvRegressionTransformer parent, DataViewSchema inputSchema)
        : LieConvMapperBase(parent, parent.Host, inputSchema)
    {
        protected override int OutputCount => 1;

        public override DataViewSchema.DetachedColumn[] GetOutputColumns()
            => [new(parent.ScoreColumnName, NumberDataViewType.Single,
                ScoreAnnotations(AnnotationUtils.Const.ScoreColumnKind.Regression).ToAnnotations())];

        protected override Delegate[] CreateGetters(Func<float[]> networkOutput, Func<int, bool> activeOutput)
        {
            var getters = new Delegate[1];
            if (activeOutput(0))
            {
                double mean = parent.LabelScaling.Mean, std = parent.LabelScaling.Std;
                // Unstandardised in double so the saved (double) μ and σ give the same float after a reload.
                getters[0] = (ValueGetter<float>)((ref float dst) => dst = (float)(networkOutput()[0] * std + mean));
            }
            return getters;
        }
    }
}
