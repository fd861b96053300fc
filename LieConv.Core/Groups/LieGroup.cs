using LieConv.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Groups.TensorMath;

namespace LieConv.Groups;

/// <summary>
/// A matrix Lie group G acting on R^SpaceDim, with the operations LieConv needs (reference §1):
/// exponential coordinates, lifting points to group elements, the kernel argument log(v⁻¹u) of a
/// (query, neighbour) pair, and the distance used for neighbourhoods and subsampling.
/// </summary>
/// <remarks>
/// <para>All operations are batched over any leading axes and keep the dtype (float32 or float64) and device of
/// their input.</para>
/// <para>Lifting follows the paper: a point x is lifted to the elements u = s(x)·h, where s(x) is a fixed
/// section with s(x)·o(q) = x (o(q) the origin of x's orbit, q the orbit identifier) and h ranges over samples
/// of the stabilizer of o(q). For groups whose stabilizer is trivial (T(d), SO(2), R×SO(2), …) the lift is
/// deterministic and <c>liftSamples</c> must be 1.</para>
/// <para>To define a new group derive from this class and implement <see cref="Hat"/>, <see cref="Log"/>,
/// <see cref="Section"/> and <see cref="OrbitOrigin"/>; override <see cref="Orbit"/> if orbits carry an
/// identifier, <see cref="SampleStabilizer"/> if the stabilizer is not trivial, and <see cref="Exp"/> where a
/// closed form beats the generic matrix exponential. See the README.</para>
/// </remarks>
public abstract class LieGroup
{
    /// <summary>Default neighbourhood distance weighting α (0.2, as in the original).</summary>
    public const double DefaultAlpha = 0.2;

    /// <summary>Creates a group with the given distance weighting α.</summary>
    protected LieGroup(double alpha)
    {
        if (!double.IsFinite(alpha) || alpha < 0 || alpha > 1)
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be a finite number in [0, 1].");
        Alpha = alpha;
    }

    /// <summary>Dimension of the Lie algebra: the length of the coordinate vector a of an element exp(Σ aₖAₖ).</summary>
    public abstract int LieDim { get; }

    /// <summary>Size of the square matrices that represent group elements (<see cref="Exp"/>'s output).</summary>
    public abstract int RepDim { get; }

    /// <summary>Dimension of the orbit identifier q of a lifted point.</summary>
    public virtual int QDim => 0;

    /// <summary>Dimension of the space whose points the group acts on and lifts.</summary>
    public abstract int SpaceDim { get; }

    /// <summary>Length of a pair feature [log(v⁻¹u), q_u, q_v]: LieDim + 2·QDim, the input width of a kernel.</summary>
    public int PairDim => LieDim + 2 * QDim;

    /// <summary>
    /// Whether lifting draws random stabilizer elements (the stabilizer of a point is not trivial); when false a
    /// point's lift is a fixed function of the point and only one lift sample makes sense.
    /// </summary>
    public virtual bool HasRandomLift => false;

    /// <summary>Weighting α of the group part against the orbit part in <see cref="Distance(Tensor)"/>.</summary>
    public double Alpha { get; }

    /// <summary>The Lie-algebra matrix Σ aₖAₖ of coordinates a: (…, LieDim) → (…, RepDim, RepDim).</summary>
    public abstract Tensor Hat(Tensor a);

    /// <summary>The group element exp(Σ aₖAₖ): (…, LieDim) → (…, RepDim, RepDim).</summary>
    /// <remarks>The default is the generic matrix exponential; the built-in groups use closed forms.</remarks>
    public virtual Tensor Exp(Tensor a) => linalg.matrix_exp(Hat(a));

    /// <summary>The principal logarithm, the inverse of <see cref="Exp"/>: (…, RepDim, RepDim) → (…, LieDim).</summary>
    public abstract Tensor Log(Tensor g);

    /// <summary>The inverse element g⁻¹ = exp(−log g): (…, RepDim, RepDim) → (…, RepDim, RepDim).</summary>
    public virtual Tensor Inverse(Tensor g) => Exp(-Log(g));

    /// <summary>Coordinates of the product exp(a)·exp(b): (…, LieDim) × (…, LieDim) → (…, LieDim), broadcasting.</summary>
    public virtual Tensor Compose(Tensor a, Tensor b)
    {
        RequireSameKind(a, b, nameof(a), nameof(b));
        return Log(matmul(Exp(a), Exp(b)));
    }

    /// <summary>The kernel argument log(v⁻¹u) for output elements u and input elements v (broadcasting).</summary>
    /// <param name="u">(…, LieDim) coordinates of the query (output) elements.</param>
    /// <param name="v">(…, LieDim) coordinates of the neighbour (input) elements.</param>
    public virtual Tensor PairElements(Tensor u, Tensor v) => Compose(-v, u);

    /// <summary>
    /// The features a kernel sees for a (query, neighbour) pair: [log(v⁻¹u), q_u, q_v], (…, PairDim),
    /// broadcasting the leading axes of all four inputs.
    /// </summary>
    public Tensor PairFeatures(Tensor u, Tensor qu, Tensor v, Tensor qv)
    {
        var pairs = PairElements(u, v);
        if (QDim == 0) return pairs;
        var shape = torch.broadcast_shapes(pairs.shape[..^1], qu.shape[..^1], qv.shape[..^1]);
        Tensor Expand(Tensor t) => t.expand(shape.Concat(new[] { t.shape[^1] }).ToArray());
        return cat(new[] { Expand(pairs), Expand(qu), Expand(qv) }, -1);
    }

    /// <summary>Distance between the two points of each pair, from its pair features (…, PairDim) → (…).</summary>
    public Tensor Distance(Tensor pairFeatures)
    {
        var (pair, qu, qv) = SplitPairFeatures(pairFeatures);
        return Distance(pair, qu, qv);
    }

    /// <summary>
    /// Distance of a pair from its parts, broadcasting: log(v⁻¹u) (…, LieDim) and the orbits q_u, q_v (…, QDim).
    /// α‖log(v⁻¹u)‖ + (1 − α)‖q_u − q_v‖ unless a group defines its own.
    /// </summary>
    public virtual Tensor Distance(Tensor pair, Tensor queryOrbit, Tensor neighbourOrbit)
    {
        // An empty part contributes 0; skipping it saves passes over the (B, m, n) distance tensors.
        if (QDim == 0) return Alpha * Norm(pair);
        if (LieDim == 0) return (1 - Alpha) * Norm(queryOrbit - neighbourOrbit);
        return Alpha * Norm(pair) + (1 - Alpha) * Norm(queryOrbit - neighbourOrbit);
    }

    /// <summary>
    /// The distance between lifted points u (with orbit q_u) and v (with q_v), broadcasting. Neighbour search and
    /// subsampling evaluate it for every (query, point) pair, so it never concatenates pair features, and groups
    /// override it where a closed form beats computing log(v⁻¹u).
    /// </summary>
    public virtual Tensor PairDistance(Tensor u, Tensor qu, Tensor v, Tensor qv) => Distance(PairElements(u, v), qu, qv);

    /// <summary>
    /// Per-point coordinates (…, W) of lifted points (…, LieDim) from which <see cref="CoordinatePairDistance"/> gives
    /// the distance of any two: searches that gather both points of every pair (ball candidates) gather these
    /// instead, so that what depends on one point alone is computed once per point rather than once per pair.
    /// By default the Lie-algebra coordinates themselves.
    /// </summary>
    public virtual Tensor DistanceCoordinates(Tensor elements) => elements;

    /// <summary>
    /// <see cref="PairDistance"/> of points given by their <see cref="DistanceCoordinates"/> (and orbits), broadcasting.
    /// </summary>
    public virtual Tensor CoordinatePairDistance(Tensor u, Tensor qu, Tensor v, Tensor qv) => PairDistance(u, qu, v, qv);

    /// <summary>
    /// The distances between every query and every point of a cloud: queries (B, r, ·) against points (B, n, ·) →
    /// (B, r, n). Neighbour search calls it once per block of query rows; groups whose distance is a Euclidean norm
    /// (<see cref="EuclideanCoordinates"/>) take one matrix product instead of an (r, n, D) difference tensor.
    /// </summary>
    public virtual Tensor BlockDistance(Tensor queryElements, Tensor queryOrbits, Tensor elements, Tensor orbits)
    {
        if (EuclideanCoordinates(queryElements, queryOrbits) is { } queries && EuclideanCoordinates(elements, orbits) is { } points)
            return queries.Scale * EuclideanBlockDistance(queries.Coordinates, points.Coordinates);
        return PairDistance(queryElements.unsqueeze(2), queryOrbits.unsqueeze(2), elements.unsqueeze(1), orbits.unsqueeze(1));
    }

    /// <summary>
    /// For groups whose distance is a multiple of a plain Euclidean distance — T(d) (α‖x_u − x_v‖) and the trivial
    /// group ((1 − α)‖x_u − x_v‖) — the coordinates (…, E) of lifted points in which it is, and the multiple; null
    /// otherwise. Neighbour search then takes all distances of a block as one matrix product and indexes large
    /// clouds in a spatial grid.
    /// </summary>
    public virtual (Tensor Coordinates, double Scale)? EuclideanCoordinates(Tensor elements, Tensor orbits) => null;

    /// <summary>
    /// Coordinates (…, E) of lifted points and a multiple s with s·‖x_u − x_v‖ ≤ distance(u, v) for every pair — a
    /// Euclidean lower bound of the distance — or null. Ball neighbourhoods use it to discard most points before
    /// computing exact distances. By default the Euclidean coordinates (an exact bound) where the group has them.
    /// </summary>
    public virtual (Tensor Coordinates, double Scale)? DistanceLowerBound(Tensor elements, Tensor orbits) => EuclideanCoordinates(elements, orbits);

    /// <summary>
    /// ‖x − y‖ for all pairs of rows, (B, r, D) × (B, n, D) → (B, r, n). libtorch's cdist takes the matrix-product
    /// form √(‖x‖² + ‖y‖² − 2x·y) for large blocks: its rounding error is about ‖x‖²·ε, which only matters between
    /// points far closer than the cloud's size.
    /// </summary>
    protected static Tensor EuclideanBlockDistance(Tensor x, Tensor y) => cdist(x, y);

    /// <summary>Splits pair features into (log(v⁻¹u), q_u, q_v).</summary>
    public (Tensor Pair, Tensor QueryOrbit, Tensor NeighbourOrbit) SplitPairFeatures(Tensor pairFeatures) => (
        pairFeatures.narrow(-1, 0, LieDim),
        pairFeatures.narrow(-1, LieDim, QDim),
        pairFeatures.narrow(-1, LieDim + QDim, QDim));

    /// <summary>Applies elements g (…, RepDim, RepDim) to points x (…, SpaceDim).</summary>
    /// <remarks>Linear groups act by g·x; affine groups (RepDim = SpaceDim + 1) by their homogeneous matrix.</remarks>
    public virtual Tensor Act(Tensor g, Tensor x)
    {
        RequireSameKind(g, x, nameof(g), nameof(x));
        if (RepDim == SpaceDim)
            return matmul(g, x.unsqueeze(-1)).squeeze(-1);
        if (RepDim == SpaceDim + 1)
        {
            var linear = g.narrow(-2, 0, SpaceDim).narrow(-1, 0, SpaceDim);
            var shift = g.narrow(-2, 0, SpaceDim).select(-1, SpaceDim);
            return matmul(linear, x.unsqueeze(-1)).squeeze(-1) + shift;
        }
        throw new NotSupportedException($"{this}: override Act for a representation of size {RepDim} on R^{SpaceDim}.");
    }

    /// <summary>Coordinates of a section s(x) with s(x)·o(q(x)) = x: (…, SpaceDim) → (…, LieDim).</summary>
    public abstract Tensor Section(Tensor x);

    /// <summary>The orbit identifier q(x): (…, SpaceDim) → (…, QDim). Empty for transitive actions.</summary>
    public virtual Tensor Orbit(Tensor x) => x.new_empty(Leading(x, 1).Append(0).ToArray());

    /// <summary>The origin o(q) of the orbit with identifier q: (…, QDim) → (…, SpaceDim).</summary>
    public abstract Tensor OrbitOrigin(Tensor q);

    /// <summary>
    /// Samples ns elements of the stabilizer of each point's orbit origin, in Lie-algebra coordinates:
    /// points (…, n, SpaceDim) → (…, n, ns, LieDim). Draws from <paramref name="random"/> (libtorch's global generator when null).
    /// </summary>
    /// <remarks>The default is for a trivial stabilizer: the identity, and only one lift sample makes sense.</remarks>
    public virtual Tensor SampleStabilizer(Tensor points, int liftSamples, RandomSource? random = null)
    {
        if (liftSamples != 1)
            throw new ArgumentOutOfRangeException(nameof(liftSamples), liftSamples,
                $"{this} lifts each point to exactly one element (its stabilizer is trivial); use 1 lift sample.");
        return points.new_zeros(Leading(points, 1).Concat(new long[] { 1, LieDim }).ToArray());
    }

    /// <summary>Lifts points (…, n, SpaceDim) to ns group elements each, drawing stabilizer samples as needed.</summary>
    public LiftedPoints Lift(Tensor points, int liftSamples = 1, RandomSource? random = null)
    {
        if (liftSamples < 1)
            throw new ArgumentOutOfRangeException(nameof(liftSamples), liftSamples, "At least one lift sample is needed.");
        CheckPoints(points);
        using var stabilizer = SampleStabilizer(points, liftSamples, random);
        return Lift(points, stabilizer);
    }

    /// <summary>
    /// Lifts points (…, n, SpaceDim) with given stabilizer samples (…, n, ns, LieDim) to the elements s(x)·h:
    /// the deterministic half of <see cref="Lift(Tensor, int, RandomSource?)"/>, used to match lifts across inputs.
    /// </summary>
    public LiftedPoints Lift(Tensor points, Tensor stabilizer)
    {
        CheckPoints(points);
        RequireSameKind(points, stabilizer, nameof(points), nameof(stabilizer));
        int ns = (int)stabilizer.shape[^2];
        var elements = Compose(Section(points).unsqueeze(-2), stabilizer).flatten(-3, -2);
        var orbits = Orbit(points).repeat_interleave(ns, dim: -2);
        return new LiftedPoints(elements, orbits, ns);
    }

    /// <summary>
    /// Throws unless both tensors share dtype and device. libtorch's batched matmul aborts the whole process
    /// (std::terminate from a parallel region) on mixed dtypes instead of raising, so this is checked up front.
    /// </summary>
    protected static void RequireSameKind(Tensor a, Tensor b, string nameA, string nameB)
    {
        if (a.dtype != b.dtype || a.device_type != b.device_type || a.device_index != b.device_index)
            throw new ArgumentException(
                $"'{nameA}' is {a.dtype} on {a.device} but '{nameB}' is {b.dtype} on {b.device}; convert one with .to(...) first.", nameB);
    }

    private void CheckPoints(Tensor points)
    {
        if (points.dim() < 2 || points.shape[^1] != SpaceDim)
            throw new ArgumentException(
                $"{this} lifts points of shape (…, n, {SpaceDim}); got ({string.Join(", ", points.shape)}).", nameof(points));
    }

    /// <summary>Parses a group spec as written in the original commands, e.g. <c>SE2(.05)</c> or <c>T(3)</c>.</summary>
    /// <exception cref="FormatException">The spec names no known group or has bad arguments.</exception>
    public static LieGroup Parse(string spec) => GroupSpec.Parse(spec);

    /// <summary>
    /// Makes <see cref="Parse"/> (and so model files and command lines) know a user-defined group by name.
    /// <paramref name="create"/> reads the arguments of specs such as <c>Dilations(3)</c>; the group's
    /// <see cref="ToString"/> must write the same form.
    /// </summary>
    /// <param name="name">The name before the parenthesis; must not clash with a built-in or registered group.</param>
    /// <param name="usage">How to write the spec, shown in error messages, e.g. <c>Dilations(d)</c>.</param>
    /// <param name="create">Builds the group from the parsed arguments.</param>
    public static void Register(string name, string usage, Func<GroupSpecArguments, LieGroup> create) =>
        GroupSpec.Register(name, usage, create);

    /// <summary>The spec of this group, which <see cref="Parse"/> reads back to an equal group.</summary>
    public abstract override string ToString();
}
