using LieConv.Models;
using LieConv.Runtime;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
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
public abstract class LieConvTransformerBase : RowMapperTransformerBase, IDisposable
{
    private readonly LieResNet _model;
    private readonly Device _device;
    private readonly object _forwardLock = new();
    private bool _disposed;

    private protected LieConvTransformerBase(IHostEnvironment env, string name, LieResNet model, Device device, LieConvInputs inputs, string scoreColumn)
        : base(env, name)
    {
        _model = model;
        _device = device;
        Channels = inputs.Channels;
        SpaceDimension = inputs.SpaceDimension;
        PointsColumnName = inputs.PointsColumn;
        FeaturesColumnName = inputs.FeaturesColumn;
        MaxPoints = inputs.MaxPoints;
        ScoreColumnName = scoreColumn;
        _model.to(device);
        _model.eval();
    }

    /// <summary>The input side of the transformer, as stored in model.zip.</summary>
    private protected LieConvInputs Inputs => new(PointsColumnName, FeaturesColumnName, SpaceDimension, Channels, MaxPoints);

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

    /// <summary>The most points a cloud may have (larger ones are refused with an error), or <see langword="null"/> for no limit.</summary>
    public int? MaxPoints { get; }

    /// <summary>The device the network runs on: the training device after <c>Fit</c>; after loading, the MLContext's GPU if set, else the CPU.</summary>
    public string Device => _device.ToString();

    /// <summary>The architecture of the trained network.</summary>
    public LieResNetOptions NetworkOptions => _model.Options;

    /// <summary>Frees the network's tensors.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _model.Dispose();
    }

    private protected override void ThrowIfUnusable() => ObjectDisposedException.ThrowIf(_disposed, this);

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

    internal override void SaveModel(ModelSaveContext ctx)
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
            LieConvNetworkSettings.SaveWeights(ctx, _model, MaxPoints);
    }

    /// <summary>Runs the network on one cloud; serialised because the module is shared by parallel cursors (§8).</summary>
    internal float[] Score(float[] coordinates, float[] features, int n)
    {
        lock (_forwardLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            float[] scores;
            using (TorchRuntime.EnterComputation())
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                _model.eval();
                var batch = new PointCloudBatch(
                    tensor(coordinates, new long[] { 1, n, SpaceDimension }).to(_device),
                    tensor(features, new long[] { 1, n, Channels }).to(_device),
                    ones(1, n, dtype: ScalarType.Bool, device: _device));
                scores = Head(_model.forward(batch)).cpu().data<float>().ToArray();
            }
            TorchRuntime.FreeUnscopedObjects();   // a serving process scores for days: its C heap must not fragment
            return scores;
        }
    }
}

/// <summary>What a LieConv transformer reads: its input columns and the shape of the clouds its network takes.</summary>
/// <param name="PointsColumn">The points column.</param>
/// <param name="FeaturesColumn">The per-point features column, or null for the constant feature 1.</param>
/// <param name="SpaceDimension">d.</param>
/// <param name="Channels">Features per point c.</param>
/// <param name="MaxPoints">The most points per cloud, or null.</param>
internal sealed record LieConvInputs(string PointsColumn, string? FeaturesColumn, int SpaceDimension, int Channels, int? MaxPoints);
