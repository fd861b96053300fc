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
    private long _networkCalls;

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

    /// <summary>Bulk reads of a transformed view score its rows in batches (<see cref="LieConvMapperBase.Source"/>).</summary>
    private protected override IRowMapper MakeMapperReading(IDataView input)
    {
        var mapper = (LieConvMapperBase)MakeMapper(input.Schema);
        mapper.Source = input;
        return mapper;
    }

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

    /// <summary>How many network calls scored rows so far (tests tell batched from row-by-row scoring by it).</summary>
    internal long NetworkCalls => Interlocked.Read(ref _networkCalls);

    /// <summary>
    /// Runs the network on a batch of clouds, padded to the largest; serialised because the module is shared by
    /// parallel cursors (§8).
    /// </summary>
    /// <remarks>
    /// A cloud's scores do not depend on the batch it is scored in: padding is masked and the network's evaluation
    /// draws are a function of the position inside each cloud (<c>RandomSource.Counter</c>), so batches differ from
    /// one-cloud calls by float rounding only.
    /// </remarks>
    internal float[][] Score(IReadOnlyList<PointCloudInput> clouds)
    {
        Interlocked.Increment(ref _networkCalls);
        int batch = clouds.Count, n = clouds.Max(cloud => cloud.Points), d = SpaceDimension, c = Channels;
        var coordinates = new float[batch * n * d];
        var features = new float[batch * n * c];
        var mask = new bool[batch * n];
        for (int b = 0; b < batch; b++)
        {
            var cloud = clouds[b];
            cloud.Coordinates.CopyTo(coordinates, b * n * d);
            cloud.Features.CopyTo(features, b * n * c);
            Array.Fill(mask, true, b * n, cloud.Points);
        }
        lock (_forwardLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            float[] scores;
            using (TorchRuntime.EnterComputation())
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                _model.eval();
                var input = new PointCloudBatch(
                    tensor(coordinates, new long[] { batch, n, d }).to(_device),
                    tensor(features, new long[] { batch, n, c }).to(_device),
                    tensor(mask, new long[] { batch, n }).to(_device));
                scores = Head(_model.forward(input)).cpu().data<float>().ToArray();
            }
            TorchRuntime.FreeUnscopedObjects();   // a serving process scores for days: its C heap must not fragment
            int width = scores.Length / batch;
            return Enumerable.Range(0, batch).Select(b => scores.AsSpan(b * width, width).ToArray()).ToArray();
        }
    }
}

/// <summary>One cloud as a transformer reads it from a row: flattened (N, d) coordinates and (N, c) features.</summary>
internal sealed record PointCloudInput(float[] Coordinates, float[] Features, int Points);

/// <summary>What a LieConv transformer reads: its input columns and the shape of the clouds its network takes.</summary>
/// <param name="PointsColumn">The points column.</param>
/// <param name="FeaturesColumn">The per-point features column, or null for the constant feature 1.</param>
/// <param name="SpaceDimension">d.</param>
/// <param name="Channels">Features per point c.</param>
/// <param name="MaxPoints">The most points per cloud, or null.</param>
internal sealed record LieConvInputs(string PointsColumn, string? FeaturesColumn, int SpaceDimension, int Channels, int? MaxPoints);
