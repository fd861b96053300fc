using LieConv.Models;
using LieConv.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.MLNet.Data;

/// <summary>
/// One batch of point clouds read by <see cref="PointCloudReader"/>, still on the host as plain arrays,
/// padded to the largest cloud of the batch.
/// </summary>
public sealed class PointCloudRows
{
    internal PointCloudRows(
        int[] pointCounts, int paddedPoints, int spaceDimension, int channels, float[] coordinates, float[] features,
        PointCloudLabelKind labelKind, int[]? classes, float[]? targets)
    {
        PointCounts = pointCounts;
        PaddedPoints = paddedPoints;
        SpaceDimension = spaceDimension;
        Channels = channels;
        Coordinates = coordinates;
        Features = features;
        LabelKind = labelKind;
        Classes = classes;
        Targets = targets;
    }

    /// <summary>The number of clouds, B.</summary>
    public int Count => PointCounts.Length;

    /// <summary>The number of points of each cloud.</summary>
    public int[] PointCounts { get; }

    /// <summary>The largest point count in the batch, Nmax: every cloud is padded to it.</summary>
    public int PaddedPoints { get; }

    /// <summary>The coordinate dimension, d.</summary>
    public int SpaceDimension { get; }

    /// <summary>The number of features per point, c.</summary>
    public int Channels { get; }

    /// <summary>Row-major (B, Nmax, d) coordinates; padding points are zero.</summary>
    public float[] Coordinates { get; }

    /// <summary>Row-major (B, Nmax, c) features; padding points are zero.</summary>
    public float[] Features { get; }

    /// <summary>Which of <see cref="Classes"/> and <see cref="Targets"/> holds the labels, if either.</summary>
    public PointCloudLabelKind LabelKind { get; }

    /// <summary>0-based class indices (key − 1) when <see cref="LabelKind"/> is <see cref="PointCloudLabelKind.Key"/>.</summary>
    public int[]? Classes { get; }

    /// <summary>Regression targets when <see cref="LabelKind"/> is <see cref="PointCloudLabelKind.Single"/>.</summary>
    public float[]? Targets { get; }

    /// <summary>
    /// The batch as LieConv's padded (coordinates, values, mask) triple on <paramref name="device"/>. The tensors
    /// join the caller's dispose scope, so call this inside the scope of the step that uses them (§11).
    /// </summary>
    /// <param name="device">Where the tensors go.</param>
    public PointCloudBatch ToBatch(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        long b = Count, n = PaddedPoints;
        var mask = new bool[b * n];
        for (int i = 0; i < PointCounts.Length; i++)
            Array.Fill(mask, true, i * PaddedPoints, PointCounts[i]);
        // torch.tensor copies the arrays, so they stay ours; Upload frees each host copy once it has moved.
        return new PointCloudBatch(
            TorchRuntime.Upload(torch.tensor(Coordinates, new[] { b, n, SpaceDimension }), device),
            TorchRuntime.Upload(torch.tensor(Features, new[] { b, n, Channels }), device),
            TorchRuntime.Upload(torch.tensor(mask, new[] { b, n }), device));
    }

    /// <summary>
    /// The labels as a (B) tensor on <paramref name="device"/>: int64 class indices for key labels,
    /// float32 targets for regression.
    /// </summary>
    /// <param name="device">Where the tensor goes.</param>
    /// <exception cref="InvalidOperationException">The batch was read without a label column.</exception>
    public Tensor LabelsTensor(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        long[] dims = { Count };
        return LabelKind switch
        {
            PointCloudLabelKind.Key => TorchRuntime.Upload(torch.tensor(Array.ConvertAll(Classes!, c => (long)c), dims), device),
            PointCloudLabelKind.Single => TorchRuntime.Upload(torch.tensor(Targets!, dims), device),
            _ => throw new InvalidOperationException("This batch has no labels: the reader was given no Label column."),
        };
    }
}
