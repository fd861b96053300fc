using LieConv.MLNet;
using LieConv.MLNet.MlNet;
using LieConv.Models;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(LieConvMulticlassTransformer), null, typeof(SignatureLoadModel),
    "LieConv Multiclass Transformer", LieConvMulticlassTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(LieConvMulticlassTransformer), null, typeof(SignatureLoadRowMapper),
    "LieConv Multiclass Transformer", LieConvMulticlassTransformer.LoaderSignature)]

namespace LieConv.MLNet;

/// <summary>
/// A trained LieConv point-cloud classifier: adds a <c>Score</c> column (per-class probabilities) and a
/// <c>PredictedLabel</c> key column, annotated so that <c>MulticlassClassification.Evaluate</c> and
/// <c>MapKeyToValue</c> work (mlnet-conventions.md §5, §8). Saved and loaded by <c>mlContext.Model</c>.
/// </summary>
public sealed class LieConvMulticlassTransformer : LieConvTransformerBase
{
    internal const string LoaderSignature = "LieConvMulticlassXf";

    private readonly LabelValues? _labelValues;

    internal LieConvMulticlassTransformer(IHostEnvironment env, LieResNet model, Device device, LieConvInputs inputs,
        string scoreColumn, string predictedLabelColumn, LabelValues? labelValues)
        : base(env, nameof(LieConvMulticlassTransformer), model, device, inputs, scoreColumn)
    {
        PredictedLabelColumnName = predictedLabelColumn;
        _labelValues = labelValues;
    }

    /// <summary>The predicted-class key column written.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>The number of classes.</summary>
    public int ClassCount => NetworkOptions.Outputs;

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "LIECVMCL",
        verWrittenCur: 0x00010002, // MaxPoints and the weights' SHA-256
        verReadableCur: 0x00010002,
        verWeCanReadBack: 0x00010001, // the golden fixture's version
        loaderAssemblyName: typeof(LieConvMulticlassTransformer).Assembly.FullName,
        loaderSignature: LoaderSignature);

    private protected override VersionInfo GetVersion() => GetVersionInfo();

    private protected override void SaveOutputColumns(ModelSaveContext ctx) => ctx.SaveNonEmptyString(PredictedLabelColumnName);

    private protected override void SaveState(ModelSaveContext ctx)
    {
        ctx.Writer.Write(_labelValues is not null);
        _labelValues?.Save(Host, ctx.Writer.BaseStream);
    }

    private protected override Tensor Head(Tensor output) => output.softmax(-1);

    private protected override IRowMapper MakeMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadModel).
    private static LieConvMulticlassTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        env.CheckValue(ctx, nameof(ctx));
        ModelVersions.Check(ctx, GetVersionInfo(), "LieConv multiclass transformer");

        string points = ctx.LoadNonEmptyString();
        string? features = ctx.LoadStringOrNull();
        string score = ctx.LoadNonEmptyString();
        string predicted = ctx.LoadNonEmptyString();
        var (spaceDimension, channels, spec) = LieConvNetworkSettings.Load(ctx);
        var labelValues = ctx.Reader.ReadBoolean() ? LabelValues.Load(env, ctx.Reader.BaseStream) : null;
        var (model, maxPoints) = LieConvNetworkSettings.LoadWeights(ctx, spec, "multiclass");
        try
        {
            return new LieConvMulticlassTransformer(env, model, env.ResolveContextDevice(),
                new LieConvInputs(points, features, spaceDimension, channels, maxPoints), score, predicted, labelValues);
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

    private sealed class Mapper(LieConvMulticlassTransformer parent, DataViewSchema inputSchema)
        : LieConvMapperBase(parent, parent.Host, inputSchema)
    {
        protected override int OutputCount => 2;

        public override DataViewSchema.DetachedColumn[] GetOutputColumns()
        {
            var score = ScoreAnnotations(AnnotationUtils.Const.ScoreColumnKind.MulticlassClassification);
            parent._labelValues?.AddTo(score, AnnotationUtils.Kinds.SlotNames, AnnotationUtils.Kinds.TrainingLabelValues);

            var predicted = new DataViewSchema.Annotations.Builder();
            parent._labelValues?.AddTo(predicted, AnnotationUtils.Kinds.KeyValues);

            return
            [
                new(parent.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, parent.ClassCount), score.ToAnnotations()),
                new(parent.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), parent.ClassCount), predicted.ToAnnotations()),
            ];
        }

        protected override Delegate[] CreateGetters(Func<float[]> probabilities, Func<int, bool> activeOutput)
        {
            var getters = new Delegate[2];
            if (activeOutput(0))
            {
                getters[0] = (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    var p = probabilities();
                    var editor = VBufferEditor.Create(ref dst, p.Length);
                    p.CopyTo(editor.Values);
                    dst = editor.Commit();
                });
            }
            if (activeOutput(1))
            {
                getters[1] = (ValueGetter<uint>)((ref uint dst) =>
                {
                    var p = probabilities();
                    int best = 0;
                    for (int i = 1; i < p.Length; i++)
                        if (p[i] > p[best]) best = i;
                    dst = (uint)best + 1;
                });
            }
            return getters;
        }
    }
}
