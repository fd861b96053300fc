using LieConv.Groups;
using LieConv.Nn;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Models;

/// <summary>Hyper-parameters of <see cref="ImageLieResNet"/> (reference §3.5); the defaults are the original's.</summary>
public sealed record ImageLieResNetOptions
{
    /// <summary>The symmetry group spec, e.g. <c>T(2)</c> or <c>SE2(.05)</c>.</summary>
    public string Group { get; init; } = "T(2)";
    /// <summary>Channels per pixel.</summary>
    public int InputChannels { get; init; } = 1;
    /// <summary>Number of classes.</summary>
    public int Classes { get; init; } = 10;
    /// <summary>Fraction of points left after all blocks ("total_ds"): each keeps TotalDownsample^(1/Layers).</summary>
    public double TotalDownsample { get; init; } = 1.0 / 64;
    /// <summary>Number of bottleneck blocks.</summary>
    public int Layers { get; init; } = 6;
    /// <summary>Fill of the first layer; layer i uses Fill / ds^i (at most 1).</summary>
    public double Fill { get; init; } = 1.0 / 32;
    /// <summary>Width k of the first stage; with <see cref="IncreaseChannels"/> stage i has ⌊k / ds^(i/2)⌋.</summary>
    public int Channels { get; init; } = 256;
    /// <summary>Grow the width as the point count shrinks.</summary>
    public bool IncreaseChannels { get; init; } = true;
    /// <summary>Neighbours per query point.</summary>
    public long Neighbourhood { get; init; } = 12;
    /// <summary>k-nearest-neighbour neighbourhoods.</summary>
    public bool Knn { get; init; }
    /// <summary>Group elements per pixel (2 in the original's SE(2) command).</summary>
    public int LiftSamples { get; init; } = 1;
    /// <summary>Masked batch norm.</summary>
    public bool BatchNorm { get; init; } = true;
    /// <summary>The nonlinearity.</summary>
    public Activation Activation { get; init; } = Activation.Swish;
    /// <summary>Pixels within this distance of the image centre become points (15: the 648 points of a 28×28 image).</summary>
    public double CropRadius { get; init; } = 15;
    /// <summary>Seed of evaluation-mode draws (null: random, as the original).</summary>
    public long? EvaluationSeed { get; init; } = 0;

    /// <summary>The fraction each block keeps.</summary>
    public double LayerDownsample => Math.Pow(TotalDownsample, 1.0 / Layers);

    /// <summary>The generic network these options describe.</summary>
    public LieResNetOptions ToLieResNetOptions()
    {
        double ds = LayerDownsample;
        return new LieResNetOptions
        {
            Group = Group,
            InputChannels = InputChannels,
            Outputs = Classes,
            Layers = Layers,
            ChannelsPerStage = Enumerable.Range(0, Layers + 1)
                .Select(i => IncreaseChannels ? (int)Math.Floor(Channels / Math.Pow(ds, i / 2.0)) : Channels).ToArray(),
            FillPerLayer = Enumerable.Range(0, Layers).Select(i => Fill / Math.Pow(ds, i)).ToArray(),
            Downsample = ds,
            Neighbourhood = Neighbourhood,
            Knn = Knn,
            LiftSamples = LiftSamples,
            BatchNorm = BatchNorm,
            Activation = Activation,
            Mean = true,
            EvaluationSeed = EvaluationSeed,
        };
    }
}

/// <summary>
/// LieResNet on images (reference §3.5): the pixels within <see cref="ImageLieResNetOptions.CropRadius"/> of the
/// centre become a point cloud on a fixed grid (first coordinate = row), with the pixel values as features.
/// </summary>
/// <remarks>
/// Work that depends only on the grid is done once and broadcast to every image: the lift (for groups whose lift
/// is deterministic) and the farthest-point subsample of every block (from a reference lift). With a deterministic
/// lift every image has the same points, so the layers search neighbourhoods and run their kernel networks once
/// per batch rather than once per image (<see cref="LiftedCloud.SharesGeometry"/>). The original caches
/// these including their batch dimension and random draws (reference §7.5), so it needs a constant batch size and
/// freezes the SE(2) lift; here SE(2) lifts are drawn anew for every image and any batch size works.
/// </remarks>
public sealed class ImageLieResNet : nn.Module<Tensor, Tensor>
{
    private readonly LieResNet body;
    private readonly object _cacheLock = new();
    private GridCache? _cache;

    /// <summary>Builds the network that <paramref name="options"/> describe.</summary>
    public ImageLieResNet(ImageLieResNetOptions options) : base(nameof(ImageLieResNet))
    {
        Options = options;
        body = new LieResNet(options.ToLieResNetOptions());
        RegisterComponents();
    }

    /// <summary>The options the network was built from.</summary>
    public ImageLieResNetOptions Options { get; }

    /// <summary>The underlying generic network.</summary>
    public LieResNet Body => body;

    /// <summary>Class logits (B, Classes) for images (B, C, H, W).</summary>
    public override Tensor forward(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != Options.InputChannels)
            throw new ArgumentException($"Images must be (batch, {Options.InputChannels}, height, width); got ({string.Join(", ", images.shape)}).", nameof(images));
        var cache = Cache(images.shape[2], images.shape[3], images.dtype, images.device);
        long batch = images.shape[0];
        var values = images.permute(0, 2, 3, 1).reshape(batch, -1, Options.InputChannels).index_select(1, cache.Pixels);

        LiftedCloud cloud;
        if (cache.Lift is { } fixedLift)
            cloud = new LiftedCloud(fixedLift.Elements, fixedLift.Orbits,
                values.repeat_interleave(Options.LiftSamples, dim: 1), ones(1, fixedLift.Elements.shape[1], dtype: ScalarType.Bool, device: images.device));
        else
            cloud = body.Lift(new PointCloudBatch(cache.Points.expand(batch, -1, -1), values, ones(batch, cache.Points.shape[1], dtype: ScalarType.Bool, device: images.device)));
        return body.Forward(cloud);
    }

    /// <summary>The grid coordinates of the pixels that become points: (N, 2), first coordinate = row.</summary>
    public static (Tensor Points, Tensor PixelIndices) Grid(long height, long width, double cropRadius, ScalarType dtype, Device device)
    {
        var grid = ImageGrid.Create(checked((int)height), checked((int)width), cropRadius);
        var points = tensor(grid.Coordinates.ToArray(), new long[] { grid.PointCount, 2 }, dtype: dtype, device: device);
        var pixels = tensor(grid.PixelIndices.ToArray().Select(i => (long)i).ToArray(), device: device);
        return (points, pixels);
    }

    private GridCache Cache(long height, long width, ScalarType dtype, Device device)
    {
        lock (_cacheLock)
        {
            if (_cache is { } c && c.Matches(height, width, dtype, device)) return c;
            // Cached tensors outlive the caller's dispose scope (e.g. a training step's), so they are detached from it.
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (points, pixels) = Grid(height, width, Options.CropRadius, dtype, device);
            points = points.unsqueeze(0);
            var group = body.Group;
            bool deterministic = !group.HasRandomLift;
            var reference = group.Lift(points, Options.LiftSamples, RandomSource.Counter(TorchRuntime.DeriveSeed(Options.EvaluationSeed ?? 0, "grid")));

            // Farthest point subsamples of the fixed grid, computed once from a reference lift, shared by all images.
            var cloud = new LiftedCloud(reference.Elements, reference.Orbits,
                zeros(1, reference.Elements.shape[1], 0, dtype: dtype, device: device), ones(1, reference.Elements.shape[1], dtype: ScalarType.Bool, device: device));
            foreach (var (block, i) in body.Blocks.Select((b, i) => (b, i)))
            {
                block.FixedSubsample = null;
                if (block.Downsample >= 1) continue;
                var kept = FarthestPointSampler.Sample(group, cloud, FarthestPointSampler.KeptCount(block.Downsample, cloud.PointCount),
                    RandomSource.Counter(TorchRuntime.DeriveSeed(Options.EvaluationSeed ?? 0, $"grid-fps{i}")));
                block.FixedSubsample = kept.DetachFromDisposeScope();
                cloud = cloud.Select(kept);
            }
            var lift = deterministic ? new LiftedPoints(reference.Elements.DetachFromDisposeScope(), reference.Orbits.DetachFromDisposeScope(), reference.LiftSamples) : null;
            _cache = new GridCache(height, width, dtype, device, points.DetachFromDisposeScope(), pixels.DetachFromDisposeScope(), lift);
            return _cache;
        }
    }

    private sealed record GridCache(long Height, long Width, ScalarType DType, Device Device, Tensor Points, Tensor Pixels, LiftedPoints? Lift)
    {
        public bool Matches(long height, long width, ScalarType dtype, Device device) =>
            Height == height && Width == width && DType == dtype && Device.type == device.type && Device.index == device.index;
    }
}
