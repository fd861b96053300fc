using LieConv.Groups;
using LieConv.Models;
using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>Small inputs and networks shared by the layer and model tests.</summary>
internal static class NnTestData
{
    /// <summary>Random clouds (B, n, d) of spread <paramref name="scale"/>, values (B, n, c) and an all-true mask.</summary>
    public static PointCloudBatch RandomClouds(long batch, long points, int dim, int channels, double scale = 2.0, ScalarType dtype = ScalarType.Float32) => new(
        (randn(batch, points, dim, dtype: ScalarType.Float64) * scale).to(dtype),
        randn(batch, points, channels, dtype: ScalarType.Float64).to(dtype),
        ones(batch, points, dtype: ScalarType.Bool));

    /// <summary>The batch with <paramref name="extra"/> padding points appended to every cloud, holding <paramref name="fill"/> (NaN by default).</summary>
    public static PointCloudBatch AppendPadding(PointCloudBatch batch, long extra, double fill = double.NaN)
    {
        long b = batch.Coordinates.shape[0];
        var coordinates = full(new[] { b, extra, batch.Coordinates.shape[2] }, fill, dtype: batch.Coordinates.dtype);
        var values = full(new[] { b, extra, batch.Values.shape[2] }, fill, dtype: batch.Values.dtype);
        return new PointCloudBatch(
            cat(new[] { batch.Coordinates, coordinates }, 1),
            cat(new[] { batch.Values, values }, 1),
            cat(new[] { batch.Mask, zeros(b, extra, dtype: ScalarType.Bool) }, 1));
    }

    /// <summary>Cloud <paramref name="index"/> of a batch, as a batch of one.</summary>
    public static PointCloudBatch Take(PointCloudBatch batch, long index) => new(
        batch.Coordinates.narrow(0, index, 1), batch.Values.narrow(0, index, 1), batch.Mask.narrow(0, index, 1));

    /// <summary>A lifted cloud for layer-level tests, with the lift's draws from a counter source.</summary>
    public static LiftedCloud Lift(LieGroup group, PointCloudBatch batch, int liftSamples = 1) =>
        LiftedCloud.Lift(group, batch.Coordinates, batch.Values, batch.Mask, liftSamples, RandomSource.Counter(1234));

    /// <summary>A small generic network (widths <paramref name="width"/>, inputs 2 features, 3 outputs).</summary>
    public static LieResNet Net(string group, int layers = 2, int width = 16, double downsample = 1, bool knn = false,
        long neighbourhood = long.MaxValue, int liftSamples = 1, long? evaluationSeed = 0, bool pool = true,
        int inputs = 2, int outputs = 3, double fill = 0.5, bool batchNorm = true) => new(new LieResNetOptions
        {
            Group = group,
            InputChannels = inputs,
            Outputs = outputs,
            Channels = width,
            Layers = layers,
            Downsample = downsample,
            Knn = knn,
            Neighbourhood = neighbourhood,
            LiftSamples = liftSamples,
            EvaluationSeed = evaluationSeed,
            Pool = pool,
            Fill = fill,
            BatchNorm = batchNorm,
        });

    /// <summary>Copies every parameter and buffer of <paramref name="source"/> into <paramref name="target"/> (same architecture).</summary>
    public static void CopyWeights(nn.Module source, nn.Module target)
    {
        using var noGrad = no_grad();
        var from = source.state_dict();
        foreach (var (name, tensor) in target.state_dict()) tensor.copy_(from[name]);
    }

    /// <summary>Makes the running statistics of every masked batch norm of <paramref name="module"/> non-trivial, so eval mode does more than the identity.</summary>
    public static void RandomiseRunningStatistics(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var (name, buffer) in module.named_buffers())
        {
            if (name.EndsWith("running_mean")) buffer.copy_(randn_like(buffer) * 0.1);
            else if (name.EndsWith("running_var")) buffer.copy_(rand_like(buffer) + 0.5);
        }
    }

    /// <summary>
    /// Multiplies every weight matrix of <paramref name="module"/> by <paramref name="gain"/> (2 by default). PyTorch's
    /// default initialisation (variance 1/(3·fan_in)) shrinks signals at every layer, so an untrained small network is
    /// almost a constant and barely sees the geometry (e.g. a Trivial(2) network changes by only 1e-3 when its cloud
    /// is translated); with gain 2 it changes by O(1), which makes invariance tests sharp.
    /// </summary>
    public static void AmplifyWeights(nn.Module module, double gain = 2)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters())
            if (name.EndsWith("weight") && p.dim() == 2) p.mul_(gain);
    }

    /// <summary>All elements of a tensor as doubles, row-major.</summary>
    public static double[] Values(Tensor t) => t.to(ScalarType.Float64).contiguous().data<double>().ToArray();

    /// <summary>All elements of an integer tensor as longs, row-major.</summary>
    public static long[] Indices(Tensor t) => t.to(ScalarType.Int64).contiguous().data<long>().ToArray();

    /// <summary>Bit-identical tensors (same shape, every element equal).</summary>
    public static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a == b).all().item<bool>();
}

/// <summary>
/// Base of the layer and model fixtures: runs libtorch on one thread while the fixture runs. The networks here are
/// tiny, so intra-op parallelism gains nothing, and on a machine whose cores are busy with other work two OpenMP
/// threads spin-wait for each other: a training step measured 60× slower (800 ms instead of 13 ms).
/// </summary>
public abstract class SingleThreadedFixture
{
    private int _threads;

    [OneTimeSetUp]
    public void UseOneThread()
    {
        _threads = torch.get_num_threads();
        torch.set_num_threads(1);
    }

    [OneTimeTearDown]
    public void RestoreThreads() => torch.set_num_threads(_threads);
}
