using LieConv.Models;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace LieConv.MLNet;

/// <summary>
/// What every trained LieConv point-cloud transformer shares: the network, its input columns, lazy row-to-row
/// transformation, saving and disposal (mlnet-conventions.md §8). The derived classes add the output columns.
/// </summary>
/// <remarks>
/// <c>Transform</c> is lazy: keep the transformer undisposed while views it produced are read.
/// Predictions are deterministic because the network draws its samples from a fixed evaluation seed.
/// </remarks>
public abstract class LieConvTransformerBase : ITransformer, ICanSaveModel, IDisposable
{
    private readonly LieResNet _model;
    private readonly object _forwardLock = new();
    private bool _disposed;

    private protected LieConvTransformerBase(IHostEnvironment env, string name, LieResNet model, int channels, int spaceDimension,
        string pointsColumn, string? featuresColumn, string scoreColumn)
    {
        Host = env.Register(name);
        _model = model;
        Channels = channels;
        SpaceDimension = spaceDimension;
        PointsColumnName = pointsColumn;
        FeaturesColumnName = featuresColumn;
        ScoreColumnName = scoreColumn;
        _model.eval();
    }

    private protected IHost Host { get; }

    /// <summary>The points column read.</summary>
    public string PointsColumnName { get; }

    /// <summary>The per-point features column read, or <see langword="null"/> when every point has the feature 1.</summary>
    public string? FeaturesColumnName { get; }

    /// <summary>The score column written.</summary>
    public string ScoreColumnName { get; }

    /// <summary>The coordinate dimension d the network was trained on.</summary>
    public int SpaceDimension { get; }

    /// <summary>Features per point.</summary>
    public int Channels { get; }

    /// <summary>The architecture of the trained network.</summary>
    public LieResNetOptions NetworkOptions => _model.Options;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        Host.CheckValue(inputSchema, nameof(inputSchema));
        return RowToRowMapperTransform.GetOutputSchema(inputSchema, MakeMapper(inputSchema));
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        Host.CheckValue(input, nameof(input));
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new RowToRowMapperTransform(Host, input, MakeMapper(input.Schema), MakeMapper);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        Host.CheckValue(inputSchema, nameof(inputSchema));
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new RowToRowMapperTransform(Host, new EmptyDataView(Host, inputSchema), MakeMapper(inputSchema), MakeMapper);
    }

    /// <summary>Frees the network's tensors.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _model.Dispose();
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) => SaveModel(ctx);

    /// <summary>The mapper that adds this transformer's output columns to rows of <paramref name="inputSchema"/>.</summary>
    private protected abstract IRowMapper MakeMapper(DataViewSchema inputSchema);

    /// <summary>The version of what <see cref="SaveModel"/> writes.</summary>
    private protected abstract VersionInfo GetVersion();

    /// <summary>Writes the column names that only this kind of transformer has, after the shared ones.</summary>
    private protected virtual void SaveOutputColumns(ModelSaveContext ctx)
    {
    }

    /// <summary>Writes this kind's own state, between the network options and the weights.</summary>
    private protected abstract void SaveState(ModelSaveContext ctx);

    /// <summary>Maps the network's output for one cloud, e.g. to probabilities; the identity by default.</summary>
    private protected virtual Tensor Head(Tensor output) => output;

    internal void SaveModel(ModelSaveContext ctx)
    {
        Host.CheckValue(ctx, nameof(ctx));
        ObjectDisposedException.ThrowIf(_disposed, this);
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersion());

        ctx.SaveNonEmptyString(PointsColumnName);
        ctx.SaveStringOrNull(FeaturesColumnName);
        ctx.SaveNonEmptyString(ScoreColumnName);
        SaveOutputColumns(ctx);
        LieConvNetworkSettings.Save(ctx, SpaceDimension, Channels, _model.Options);
        SaveState(ctx);

        lock (_forwardLock)
            LieConvNetworkSettings.SaveWeights(ctx, _model);
    }

    /// <summary>Runs the network on one cloud; serialised because the module is shared by parallel cursors (§8).</summary>
    internal float[] Score(float[] coordinates, float[] features, int n)
    {
        lock (_forwardLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            _model.eval();
            var batch = new PointCloudBatch(
                tensor(coordinates, new long[] { 1, n, SpaceDimension }),
                tensor(features, new long[] { 1, n, Channels }),
                ones(1, n, dtype: ScalarType.Bool));
            return Head(_model.forward(batch)).cpu().data<float>().ToArray();
        }
    }
}
