using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Runtime;

/// <summary>
/// Where random draws (lift stabilizers, neighbourhood noise, subsampling starts) come from. Training draws from
/// a torch generator; evaluation can use a <see cref="Counter"/> source, whose draws are a fixed function of the
/// position inside one cloud, so a cloud's prediction is reproducible and does not depend on the batch it is in,
/// its padding, or the device.
/// </summary>
public abstract class RandomSource
{
    /// <summary>Uniform draws in [0, 1) of the given shape; axis 0 indexes clouds.</summary>
    public Tensor Uniform(long[] shape, ScalarType dtype, Device device) => Uniform(shape, dtype, device, offsets: null);

    /// <summary>
    /// Uniform draws in [0, 1) for the block of positions that starts at <paramref name="offsets"/> (one per axis)
    /// inside a larger array: a counter source gives a block the draws the whole array would have at those positions.
    /// </summary>
    public abstract Tensor Uniform(long[] shape, ScalarType dtype, Device device, long[]? offsets);

    /// <summary>
    /// Uniform draws (<paramref name="batch"/>, rows, c) for the points <paramref name="columns"/> (1 or B, rows, c) of
    /// the query rows that start at <paramref name="rowOffset"/>: a counter source gives each the draw that its
    /// (row, column) position has in a full (B, rows, n) request, so that drawing for a subset of the columns (the
    /// candidates of a ball) ranks them exactly as drawing for every column would.
    /// </summary>
    public virtual Tensor UniformAt(long batch, Tensor columns, long rowOffset, ScalarType dtype) =>
        Uniform(new[] { batch, columns.shape[1], columns.shape[2] }, dtype, columns.device, new[] { 0L, rowOffset, 0L });

    /// <summary>
    /// For each of <paramref name="batch"/> clouds and each row, a uniform random subset of up to <paramref name="k"/>
    /// of the row's flagged slots (a ball's points among a query's candidates): all of them when there are fewer.
    /// </summary>
    /// <param name="batch">How many clouds choose (B).</param>
    /// <param name="columns">(1 or B, rows, c) the point each slot stands for, as in <see cref="UniformAt"/>.</param>
    /// <param name="flags">(1 or B, rows, c) which slots may be chosen; c ≥ <paramref name="k"/>.</param>
    /// <param name="rowOffset">Where the rows start in the whole request (<see cref="UniformAt"/>).</param>
    /// <param name="k">How many slots each row takes.</param>
    /// <param name="dtype">Floating type of any draws that rank the slots.</param>
    /// <returns>
    /// (B, rows, k) the chosen slots, in no particular order, and whether each is a flagged one; a row with fewer than
    /// k flagged slots fills the rest with unflagged slots (marked false).
    /// </returns>
    /// <remarks>
    /// Sources rank the slots, as the original does: flagged slots score 1 + U(0, 1), the others U(0, 1), and the top k
    /// are taken — a counter source at each slot's own (row, column) draw, so that any subset of the columns holding
    /// the flagged ones chooses the same points. A generator source on the CPU draws each subset directly instead (the
    /// same distribution, for a fraction of the work).
    /// </remarks>
    /// <exception cref="ArgumentException">The flags are not (1 or B, rows, c) with c ≥ k, or the columns not of their shape.</exception>
    public (Tensor Slots, Tensor Flagged) ChooseSubsets(long batch, Tensor columns, Tensor flags, long rowOffset, long k, ScalarType dtype)
    {
        if (flags.dim() != 3 || (flags.shape[0] != 1 && flags.shape[0] != batch) || flags.shape[2] < k || k < 0)
            throw new ArgumentException($"Flags must be (1 or {batch}, rows, c) with c ≥ k = {k}; got ({string.Join(", ", flags.shape)}).", nameof(flags));
        if (columns.dim() != 3 || columns.shape[1] != flags.shape[1] || columns.shape[2] != flags.shape[2] || (columns.shape[0] != 1 && columns.shape[0] != batch))
            throw new ArgumentException($"Columns must be (1 or {batch}, {flags.shape[1]}, {flags.shape[2]}) as the flags; got ({string.Join(", ", columns.shape)}).", nameof(columns));
        return Choose(batch, columns, flags, rowOffset, k, dtype);
    }

    /// <summary><see cref="ChooseSubsets"/> with its arguments checked: this source ranks the slots (remarks there).</summary>
    protected virtual (Tensor Slots, Tensor Flagged) Choose(long batch, Tensor columns, Tensor flags, long rowOffset, long k, ScalarType dtype)
    {
        var score = UniformAt(batch, columns, rowOffset, dtype).add_(flags);
        var (best, slots) = score.topk((int)k, dim: -1, sorted: false);   // unsorted: a neighbourhood is a set
        return (slots, best >= 1);   // U(0, 1) can be 0, and 1 + U can round to 1
    }

    /// <summary>Standard normal draws of the given shape; axis 0 indexes clouds.</summary>
    public virtual Tensor Normal(long[] shape, ScalarType dtype, Device device)
    {
        // Box–Muller on two uniforms; 1 − u keeps the logarithm's argument in (0, 1].
        var u = Uniform(shape.Append(2).ToArray(), ScalarType.Float64, device);
        var radius = (-2 * (1 - u.select(-1, 0)).log()).sqrt();
        return (radius * (2 * Math.PI * u.select(-1, 1)).cos()).to(dtype);
    }

    /// <summary>Draws from <paramref name="generator"/>, or from libtorch's global generator when it is null.</summary>
    public static RandomSource FromGenerator(Generator? generator = null) => new GeneratorSource(generator);

    /// <summary>
    /// Deterministic draws: element (c, i, j, …) of a request is a hash of (seed, i, j, …) — the cloud index c is
    /// ignored, so every cloud of a batch gets the same draws for the same positions.
    /// </summary>
    public static RandomSource Counter(long seed) => new CounterSource(seed);

    private sealed class GeneratorSource(Generator? generator) : RandomSource
    {
        public override Tensor Uniform(long[] shape, ScalarType dtype, Device device, long[]? offsets) =>
            rand(shape, dtype: dtype, device: device, generator: generator);

        public override Tensor Normal(long[] shape, ScalarType dtype, Device device) =>
            randn(shape, dtype: dtype, device: device, generator: generator);

        /// <remarks>
        /// On the CPU each row draws its k slots directly (<see cref="UniformSubsets"/>): k draws instead of one per
        /// slot and a top-k ranking of them, which were a tenth of a RotMNIST training step. The subsets have the same
        /// distribution; the generator gives one seed per call. On a GPU the slots are ranked, without reading on the host.
        /// </remarks>
        protected override (Tensor Slots, Tensor Flagged) Choose(long batch, Tensor columns, Tensor flags, long rowOffset, long k, ScalarType dtype)
        {
            if (!HostReads.AreFree(flags)) return base.Choose(batch, columns, flags, rowOffset, k, dtype);
            using var draw = randint(long.MaxValue, new[] { 1L }, dtype: ScalarType.Int64, generator: generator);
            return UniformSubsets.Choose(batch, flags, rowOffset, k, HostReads.Item<long>(draw, "the seed of a neighbourhood draw"));
        }
    }

    private sealed class CounterSource(long seed) : RandomSource
    {
        private const long Mask32 = 0xFFFFFFFFL;

        public override Tensor Uniform(long[] shape, ScalarType dtype, Device device, long[]? offsets)
        {
            // Each within-cloud axis index as an arange viewed along its axis (broadcast).
            var indices = Enumerable.Range(1, shape.Length - 1).Select(axis =>
            {
                long start = offsets?[axis] ?? 0;
                var view = Enumerable.Repeat(1L, shape.Length).ToArray();
                view[axis] = shape[axis];
                return arange(start, start + shape[axis], dtype: ScalarType.Int64, device: device).view(view);
            });
            return Draw(indices, shape, dtype, device);
        }

        public override Tensor UniformAt(long batch, Tensor columns, long rowOffset, ScalarType dtype)
        {
            // As Uniform on (batch, rows, n) with offsets (0, rowOffset, 0), with the column positions given.
            long rows = columns.shape[1];
            var rowIndex = arange(rowOffset, rowOffset + rows, dtype: ScalarType.Int64, device: columns.device).view(1, rows, 1);
            return Draw([rowIndex, columns.to(ScalarType.Int64)], [batch, rows, columns.shape[2]], dtype, columns.device);
        }

        /// <summary>
        /// Uniform draws of <paramref name="shape"/> from the seed with the within-cloud axis indices (broadcastable to
        /// it, axis 1 first) folded in turn: a counter-based generator with 32-bit state kept in int64 so that no
        /// product overflows.
        /// </summary>
        private Tensor Draw(IEnumerable<Tensor> axisIndices, long[] shape, ScalarType dtype, Device device)
        {
            var state = tensor(Mix(seed & Mask32 ^ (seed >> 32) * 0x9E3779B1L & Mask32), dtype: ScalarType.Int64, device: device);
            int axis = 1;
            foreach (var index in axisIndices) state = Hash((state ^ index) + axis++);
            var bits = ShiftRight(state.expand(shape), 8);             // 24 bits: exact in float32
            return (bits.to(ScalarType.Float64) / (1 << 24)).to(dtype);
        }

        private static long Mix(long x)
        {
            // The same 32-bit finaliser as Hash, on the host for the seed.
            x ^= x >> 16; x = x * 0x7FEB352DL & Mask32;
            x ^= x >> 15; x = MultiplyMod32(x, 0x846CA68BL);
            return x ^ (x >> 16);
        }

        private static long MultiplyMod32(long x, long c) => (x * (c & 0xFFFF) + ((x * (c >> 16) & 0xFFFF) << 16)) & Mask32;

        /// <summary>Wellons' "lowbias32" integer hash on values in [0, 2³²), in int64 tensor arithmetic.</summary>
        private static Tensor Hash(Tensor x)
        {
            x = x & Mask32;
            x = x ^ ShiftRight(x, 16);
            x = x * 0x7FEB352DL & Mask32;
            x = x ^ ShiftRight(x, 15);
            x = (x * 0xA68BL + (x * 0x846CL & 0xFFFF) * 0x10000L) & Mask32;
            return x ^ ShiftRight(x, 16);
        }

        // Values are non-negative, so a floor division is the logical shift.
        private static Tensor ShiftRight(Tensor x, int bits) => x.div(1L << bits, rounding_mode: RoundingMode.floor);
    }
}
