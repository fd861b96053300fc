using LieConv.Groups;
using LieConv.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>Hyper-parameters of one LieConv layer (reference §2.1).</summary>
/// <param name="Neighbourhood">Neighbours per query point ("nbhd", the original's mc_samples).</param>
/// <param name="Fill">Target fraction of a cloud inside each query's ball; the radius adapts to it while training.</param>
/// <param name="Knn">Take the k nearest points instead of a random subset of a ball.</param>
/// <param name="Mean">Divide by the number of neighbours (bias included, as the original).</param>
/// <param name="BatchNorm">Masked batch norm inside the kernel network.</param>
/// <param name="Activation">The kernel network's nonlinearity.</param>
public sealed record LieConvSettings(long Neighbourhood = 32, double Fill = 1.0 / 3, bool Knn = false, bool Mean = false,
    bool BatchNorm = false, Activation Activation = Activation.Swish);

/// <summary>
/// The LieConv layer (reference §2): for each query point u, out(u) = W·Σ_v k(log v⁻¹u) ⊗ f(v) / n_u over a
/// neighbourhood of u, with the kernel k a small network of the pair features and the sum computed as in PointConv.
/// </summary>
public sealed class LieConvolution : nn.Module<LiftedCloud, Tensor?, LiftedCloud>
{
    /// <summary>Initial ball radius, in the group distance's units.</summary>
    public const double InitialRadius = 2.0;

    private const double RadiusStep = 0.5;

    private readonly WeightNet weightnet;
    private readonly Linear linear;
    private readonly Tensor radius;

    /// <summary>A layer from <paramref name="inChannels"/> to <paramref name="outChannels"/> features over <paramref name="group"/>.</summary>
    public LieConvolution(LieGroup group, long inChannels, long outChannels, LieConvSettings settings, Sampling sampling) : base(nameof(LieConvolution))
    {
        Group = group;
        Settings = settings;
        Sampling = sampling;
        InChannels = inChannels;
        weightnet = new WeightNet(group.PairDim, settings.BatchNorm, settings.Activation);
        linear = nn.Linear(WeightNet.OutputWidth * inChannels, outChannels);
        radius = tensor((float)InitialRadius);
        RegisterComponents();
    }

    /// <summary>The group the layer is equivariant to.</summary>
    public LieGroup Group { get; }

    /// <summary>The layer's hyper-parameters.</summary>
    public LieConvSettings Settings { get; }

    /// <summary>Where neighbourhood noise comes from.</summary>
    public Sampling Sampling { get; }

    /// <summary>Input feature width.</summary>
    public long InChannels { get; }

    /// <summary>The current ball radius (saved with the weights).</summary>
    public Tensor Radius => radius;

    /// <summary>
    /// Convolves <paramref name="cloud"/>, producing outputs at the points <paramref name="queries"/> (B, m) — or at
    /// every point when null.
    /// </summary>
    public override LiftedCloud forward(LiftedCloud cloud, Tensor? queries)
    {
        var at = queries is null ? cloud : cloud.Select(queries);
        var ball = Settings.Knn ? null : radius;
        // kNN neighbourhoods depend only on the points, so consecutive layers on the same points share one search.
        bool reusable = ball is null && queries is null;
        // Ball layers on the same points share the distances between every pair: the first computes them.
        var distances = ball is not null && queries is null ? SharedDistances(cloud) : null;
        var neighbourhood = reusable && cloud.Nearest is { } known && known.Group == Group && known.K == Settings.Neighbourhood
            ? known.Neighbourhood
            : Neighbourhoods.Select(Group, cloud, at, Settings.Neighbourhood, ball, Sampling.For(training), distances?.Values,
                queries ?? arange(cloud.PointCount, dtype: ScalarType.Int64, device: cloud.Elements.device).unsqueeze(0));
        if (training && ball is not null) AdaptRadius(neighbourhood.InBallCount!, at.Mask, cloud.Mask);

        // Padded clouds convolve at their real queries only (RealRows): one cloud of R queries over the batch's points.
        var real = neighbourhood.Choice is null && neighbourhood.Candidates.shape[0] == cloud.BatchSize ? RealRows.Of(at.Mask, at.BatchSize) : null;
        var output = real is null
            ? Convolve(cloud, at, neighbourhood) * at.Mask.unsqueeze(-1).to(cloud.Values.dtype)
            : real.Unpack(Convolve(Flatten(cloud), Pack(at, real), Pack(neighbourhood, real, cloud.PointCount)).squeeze(0));
        return at.WithValues(output) with
        {
            Nearest = reusable ? new NearestNeighbours(Group, Settings.Neighbourhood, neighbourhood) : at.Nearest,
            Distances = distances ?? at.Distances,
        };
    }

    /// <summary>The distances between every pair of <paramref name="cloud"/>'s points that an earlier layer kept, or new ones (null when too many).</summary>
    private PairDistances? SharedDistances(LiftedCloud cloud)
    {
        if (cloud.Distances is { } kept && kept.Group == Group) return kept;
        var all = Neighbourhoods.AllPairDistances(Group, cloud);
        return all is null ? null : new PairDistances(Group, all);
    }

    /// <summary>(B, m, cout) the convolution at the queries <paramref name="at"/> over <paramref name="neighbourhood"/>, padding included.</summary>
    private Tensor Convolve(LiftedCloud cloud, LiftedCloud at, Neighbourhood neighbourhood)
    {
        // The kernel network runs once per (query, candidate) pair — once for the whole batch when clouds share
        // their points — with batch-norm statistics weighted by how many neighbourhoods use each pair, which are
        // the statistics of running it on every neighbour of every cloud.
        var kernel = neighbourhood.Choice is null ? Kernel(cloud, at, neighbourhood) : SharedKernel(cloud, at, neighbourhood);  // (B or 1, m, k, 16)
        var mask = neighbourhood.Valid;                                                                  // (B or 1, m, k)
        kernel = kernel * mask.unsqueeze(-1).to(kernel.dtype);
        // Values need no mask of their own: the kernel is already 0 at invalid neighbours and values are finite
        // everywhere (padding is zeroed at the input), and skipping it saves a pass over the largest tensor.
        var rows = LiftedCloud.RowIndices(cloud.Values, neighbourhood.Indices);                        // (B, m, k) of B·n
        // PointConv's trick, W·vec(Σ_v f(v) ⊗ k(v)) + b, as one operation that gathers the neighbours' features
        // again in its backward pass rather than keeping them (k copies of the input) from the forward pass.
        long batch = rows.shape[0], m = rows.shape[1], k = rows.shape[2];
        var output = PointConvSum.Compute(cloud.Values.flatten(0, 1), rows.reshape(batch * m, k),
            kernel.expand(batch, -1, -1, -1).reshape(batch * m, k, -1), linear.weight!, linear.bias!).view(batch, m, -1);
        return Settings.Mean ? output / mask.sum(-1, keepdim: true).clamp_min(1) : output;
    }

    /// <summary>The batch as one cloud of B·n points (views where the geometry is per cloud).</summary>
    private static LiftedCloud Flatten(LiftedCloud cloud) => AsOneCloud(cloud, t => t.flatten(0, 1));

    /// <summary>The real queries of <paramref name="at"/> as one cloud of R queries.</summary>
    private static LiftedCloud Pack(LiftedCloud at, RealRows real) => AsOneCloud(at, real.Pack);

    /// <summary>One cloud (batch 1) of the rows that <paramref name="rows"/> takes from each (B, n, …) part of <paramref name="cloud"/>.</summary>
    private static LiftedCloud AsOneCloud(LiftedCloud cloud, Func<Tensor, Tensor> rows)
    {
        var perCloud = cloud.PerCloud();
        Tensor One(Tensor t) => rows(t).unsqueeze(0);
        return new LiftedCloud(One(perCloud.Elements), One(perCloud.Orbits), One(perCloud.Values), One(perCloud.Mask));
    }

    /// <summary>The neighbourhoods of the real queries, as indices among the batch's B·n points.</summary>
    private static Neighbourhood Pack(Neighbourhood neighbourhood, RealRows real, long points)
    {
        var candidates = neighbourhood.Candidates;                                                       // (B, m, k)
        var offsets = arange(candidates.shape[0], dtype: ScalarType.Int64, device: candidates.device).mul_(points).view(-1, 1, 1);
        return new Neighbourhood(real.Pack(candidates + offsets).unsqueeze(0), null, real.Pack(neighbourhood.Valid).unsqueeze(0), null);
    }

    /// <summary>Whether shared balls run the kernel network on their in-ball candidates only (off: on every padded slot too).</summary>
    internal static bool CompactKernelTables { get; set; } = true;

    /// <summary>Whether shared kernel tables run the kernel network once per distinct pair feature (off: once per pair; tests compare).</summary>
    internal static bool DistinctPairFeatures { get; set; } = true;

    /// <summary>
    /// Kernel tables with more than this fraction of distinct pair features run on every pair: the search stops there
    /// (RotMNIST SO(2), three-quarters distinct: 0.98× steps; Trivial(2), none repeated).
    /// </summary>
    private const double MostDistinctPairFeatures = 0.8;

    /// <summary>Kernel values (B or 1, m, k, 16) of neighbours that are the candidates themselves.</summary>
    private Tensor Kernel(LiftedCloud cloud, LiftedCloud at, Neighbourhood neighbourhood)
    {
        var candidates = neighbourhood.Candidates;
        var pairs = Group.PairFeatures(at.Elements.unsqueeze(2), at.Orbits.unsqueeze(2),
            LiftedCloud.Gather(cloud.Elements, candidates), LiftedCloud.Gather(cloud.Orbits, candidates));   // (B or 1, m, k, D)
        return weightnet.forward(pairs, neighbourhood.PairUsage(cloud.BatchSize, pairs.dtype));
    }

    /// <summary>
    /// Kernel values (B, m, k, 16) of neighbours that each cloud chose among shared candidates: the kernel network
    /// runs once on the (query, candidate) slots — once per distinct pair feature where many repeat — and each cloud
    /// reads its rows. Balls differ in size, so when the in-ball candidates come first only those slots are evaluated,
    /// not the padding up to the fullest ball.
    /// </summary>
    private Tensor SharedKernel(LiftedCloud cloud, LiftedCloud at, Neighbourhood neighbourhood)
    {
        var (candidates, choice) = (neighbourhood.Candidates, neighbourhood.Choice!);                   // (1, m, c), (B, m, k)
        long m = candidates.shape[1], c = candidates.shape[2];
        var chosen = neighbourhood.ChosenSlots();                                                        // (B·m·k) of m·c
        var usage = neighbourhood.PairUsage(cloud.BatchSize, at.Elements.dtype).flatten();              // (m·c)
        var query = arange(m, dtype: ScalarType.Int64, device: candidates.device).repeat_interleave(c);
        var point = candidates.flatten();
        var usable = neighbourhood.InBallCandidatesFirst && CompactKernelTables
            ? (arange(c, device: candidates.device).view(1, 1, c) < neighbourhood.InBallCount!.unsqueeze(-1)).flatten()
            : null;
        var slots = usable is null ? null : HostReads.TrueIndices(usable, "the in-ball slots of a kernel table");
        if (usable is not null && slots!.shape[0] > 0)   // no ball holds a point only if every query is padding
        {
            (query, point, usage) = (query.index_select(0, slots), point.index_select(0, slots), usage.index_select(0, slots));
            // Table row of each chosen slot; a slot beyond its ball is never valid, any row will do.
            chosen = usable.to(ScalarType.Int64).cumsum(0).sub_(1).clamp_min_(0).index_select(0, chosen);
        }
        var pairs = Group.PairFeatures(at.Elements[0].index_select(0, query), at.Orbits[0].index_select(0, query),
            cloud.Elements[0].index_select(0, point), cloud.Orbits[0].index_select(0, point));          // (P, D)
        // Pairs with the same features have the same kernel values: on a pixel grid the offsets of T(2) repeat, and
        // the network runs on a ninth of the rows. Each distinct row weighs in the statistics as all its pairs together.
        if (DistinctPairFeatures && !pairs.requires_grad && HostReads.AreFree(pairs)
            && DistinctRows.Find(pairs, MostDistinctPairFeatures) is var (distinct, inverse))
        {
            usage = zeros(distinct.shape[0], dtype: usage.dtype, device: usage.device).index_add_(0, inverse, usage, 1);
            (pairs, chosen) = (distinct, inverse.index_select(0, chosen));
        }
        return IndexedRows.Select(weightnet.forward(pairs, usage), chosen).view(choice.shape[0], m, choice.shape[2], WeightNet.OutputWidth);
    }

    /// <summary>
    /// r ← r + 0.5·(fill − mean fill): the mean, over valid queries, of the fraction of their own cloud inside the ball.
    /// </summary>
    /// <remarks>
    /// The original divides the batch's mean in-ball count by its mean cloud size, which overestimates the fill of
    /// batches with clouds of different sizes (reference §7.7), so with fill 1 the radius settles too small.
    /// </remarks>
    private void AdaptRadius(Tensor inBallCount, Tensor queryMask, Tensor pointMask)
    {
        using var noGrad = no_grad();
        var cloudSize = pointMask.sum(1, keepdim: true).clamp_min(1).to(ScalarType.Float64);
        var fraction = (inBallCount.to(ScalarType.Float64) / cloudSize) * queryMask;
        var fill = fraction.sum() / queryMask.sum().clamp_min(1);
        radius.add_((RadiusStep * (Math.Min(Settings.Fill, 1) - fill)).to(radius.dtype));
    }
}
