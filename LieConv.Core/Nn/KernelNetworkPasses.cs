using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// The batch-normalised kernel network of <see cref="WeightNetFunction"/> on the CPU as a few passes over its rows,
/// each taking one row at a time through a whole dense layer — its input formed from the layer below, the product,
/// the statistics or gradient sums — in registers and a few hundred bytes of stack.
/// </summary>
/// <remarks>
/// <para>Batch norm needs the statistics of all rows of a layer before any row can go on, so a layer is one pass;
/// between passes only what the next pass cannot form again from a few numbers stays in memory: the dense layers'
/// outputs of the hidden layers (normalised in place once their statistics are known, the x̂ the backward pass reads)
/// and the network's output. The first layer's output is formed again from the pairs (three numbers each for SE(2)),
/// so its pass writes nothing. Written as whole-tensor operations, each layer moved its (N, 32) rows through memory
/// about eight times forward (the product, the squares for the variance and two products for the sums, normalise,
/// activate) and a dozen backward; the kernel network runs on every (query, neighbour) pair, so these were the
/// largest and most frequent passes of a step (RotMNIST SE(2): 1.6 M pairs a step, half the step's time).</para>
/// <para>The backward pass goes down the layers the same way: the pass of layer l reads the gradient ∂y of the layer
/// above and its x̂, forms that layer's ∂z with batch norm's centring terms, adds its weight and bias gradients, and
/// carries ∂z·W down to layer l's ∂y, summing Σ∂y and Σ∂y·x̂ (γ's and β's gradients, and the next centring terms);
/// a last pass does the first layer's ∂z, weight gradient and, when asked, the pairs' gradient. Sums over rows are
/// added in double (float sums over a band lose the small differences batch norm's gradient is made of); weight
/// gradients are added in float over a tile of rows and then in double. Bands of rows run on libtorch's number of
/// threads.</para>
/// <para>What bounds a row is latency, not arithmetic: the products keep eight chains of fused multiply-adds side by
/// side, the weight gradients hold each tile row in registers across a block of eight rows (a load and a store per
/// multiply-add before: the backward pass 1.6× slower than libtorch's), and the sigmoid's e^x is computed in float
/// (.NET's computes in double). On 600k random pairs, two threads, forward and backward: 359 against libtorch's 466 ms
/// with the first two, about a fifth less again with all three; RotMNIST SE(2)'s step peak RSS a sixth lower, as the
/// passes allocate each hidden layer's z once forward and two ∂y tensors backward.</para>
/// <para>The passes are written once over <see cref="ILanes{TSelf}"/> and run with 512-bit vectors where the CPU has
/// AVX-512, 256-bit ones elsewhere (<see cref="WidestVectors"/>). The per-row steps of the backward pass are methods
/// of their own that the JIT does not inline into it: all inlined, they exhausted its inlining budget for the pass
/// and left vector additions as calls (the backward pass twice as slow).</para>
/// </remarks>
internal static unsafe class KernelNetworkPasses
{
    /// <summary>The widest layer the passes take: their per-row buffers live on the stack.</summary>
    private const int MaxWidth = 128;

    /// <summary>Rows whose weight-gradient products are added in float before they go into the double totals.</summary>
    private const int TileRows = 64;

    /// <summary>Rows whose weight-gradient products are added to the tile together, each tile row held in registers across them (divides <see cref="TileRows"/>).</summary>
    private const int BlockRows = 8;

    private static long runs;

    /// <summary>How many forward or backward runs took the passes in this process (tests tell the routes apart by it).</summary>
    public static long Runs => Interlocked.Read(ref runs);

    /// <summary>Rows of pairs from which the passes run (tests set 0); fewer rows take libtorch's operations.</summary>
    /// <remarks>
    /// On fewer rows, whose (N, 32) tensors the caches hold, libtorch's operations are faster (two threads, a network
    /// forward and backward on random pairs: 40k rows 30 against 43 ms, 100k 73 against 91; 140k 141 against 110, 600k
    /// 466 against 359): 2¹⁷ is that crossover. RotMNIST SE(2) steps alternating in one process: 2,433–2,458 ms with
    /// 2¹⁷, 2,585–2,600 with 2¹⁴, 2,549–2,582 with 2¹⁸, 2,617–2,638 without the passes. QM9 SE(3) (75 molecules ×
    /// about 18 atoms × 4 lifts × 25 neighbours: about 135k pairs a layer) took 4,411–4,429 ms a step with 2¹⁷ against
    /// 4,213–4,269 without: 4 % slower, less than that configuration's spread between runs (4,322–4,584 in session 16).
    /// </remarks>
    internal static long MinimumRows { get; set; } = 1L << 17;

    /// <summary>Whether the passes are on (tests compare with the operations route).</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>
    /// Whether the passes compute with 512-bit vectors: where the CPU runs them natively (AVX-512), unless a test
    /// turns them off to run the 256-bit passes there too.
    /// </summary>
    /// <remarks>
    /// RotMNIST SE(2)'s kernel network (3 → 32 → 32 → 32 → 16) on 600k random pairs, two threads: alternating the two
    /// widths in one process, forward 0.77–0.82× and backward 0.82–0.89× with 512-bit vectors; against the 256-bit-only
    /// passes before them (processes interleaved) 0.83–0.98× and 0.66–0.86×, and with AVX-512 switched off
    /// (<c>DOTNET_EnableAVX512=0</c>) the same speed as those. A 32-wide row is two such vectors, so the products and
    /// weight gradients keep two vectors of sums per input or tile row, for eight chains of fused multiply-adds side by side.
    /// </remarks>
    internal static bool WidestVectors { get; set; } = Vector512.IsHardwareAccelerated;

    /// <summary>One layer's parameters as the passes read them, widths padded to whole vectors with zeros.</summary>
    private sealed class LayerValues
    {
        public int In, Out, InPadded, OutPadded;
        public float[] WeightByInput = [];    // W[j, i] at i·OutPadded + j: z = b + Σ_i a_i·(row i)
        public float[] WeightByOutput = [];   // W[j, i] at j·InPadded + i: ∂a = Σ_j ∂z_j·(row j)
        public float[] Bias = [], Gamma = [], Beta = [];
        public float[] Mean = [], InverseDeviation = [];
        public float[] Scale = [], MeanTerm = [], SpreadTerm = [];   // backward: ∂z = s·∂y − w·(m + x̂·v)
    }

    /// <summary>Whether the passes take a network on <paramref name="pairs"/> with <paramref name="parameters"/> (W, b, γ, β per layer).</summary>
    public static bool Take(Tensor pairs, Tensor? rowWeights, IReadOnlyList<Tensor> parameters, params Tensor?[] others) =>
        Enabled && pairs.shape[0] >= MinimumRows && pairs.dim() == 2 && pairs.shape[1] <= MaxWidth
        && IsLoopGround(pairs) && (rowWeights is null || IsLoopGround(rowWeights))
        && parameters.All(p => p.dtype == ScalarType.Float32 && HostReads.AreFree(p) && p.shape[0] <= MaxWidth)
        && others.All(t => t is null || IsLoopGround(t));

    private static bool IsLoopGround(Tensor t) => t.dtype == ScalarType.Float32 && HostReads.AreFree(t) && t.is_contiguous();

    /// <summary>
    /// The network's output (N, C_out) for <paramref name="pairs"/>, with what the backward pass keeps: each hidden
    /// layer's x̂ (null for the first, formed again from the pairs) and every layer's mean, 1/σ and whether its
    /// variance reached ε. With <paramref name="batchStatistics"/> the statistics are the rows' (weighted by
    /// <paramref name="rowWeights"/>) and update <paramref name="norms"/>' running ones; otherwise the running ones.
    /// </summary>
    public static (Tensor Output, Tensor?[] Normalised, Tensor[] Mean, Tensor[] InverseDeviation, Tensor[] Varying) Forward(
        Tensor pairs, Tensor? rowWeights, IReadOnlyList<Tensor> parameters, IReadOnlyList<MaskedBatchNorm> norms, Activation activation, bool batchStatistics)
    {
        Interlocked.Increment(ref runs);
        return WidestVectors
            ? Passes<Lanes512>.Forward(pairs, rowWeights, parameters, norms, activation, batchStatistics)
            : Passes<Lanes256>.Forward(pairs, rowWeights, parameters, norms, activation, batchStatistics);
    }

    /// <summary>
    /// The gradients of the network by its parameters (W, b, γ, β per layer) and, where <paramref name="pairsNeedGradient"/>,
    /// by the pairs, for the incoming gradient <paramref name="gradOutput"/> (N, C_out) and what <see cref="Forward"/> kept.
    /// </summary>
    public static (Tensor[] ParameterGradients, Tensor? PairsGradient) Backward(Tensor gradOutput, Tensor pairs, Tensor? rowWeights,
        IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor?> normalised, IReadOnlyList<Tensor> means, IReadOnlyList<Tensor> inverseDeviations,
        IReadOnlyList<Tensor> varying, Activation activation, bool batchStatistics, bool pairsNeedGradient)
    {
        Interlocked.Increment(ref runs);
        return WidestVectors
            ? Passes<Lanes512>.Backward(gradOutput, pairs, rowWeights, parameters, normalised, means, inverseDeviations, varying, activation, batchStatistics, pairsNeedGradient)
            : Passes<Lanes256>.Backward(gradOutput, pairs, rowWeights, parameters, normalised, means, inverseDeviations, varying, activation, batchStatistics, pairsNeedGradient);
    }

    /// <summary>The passes with one width of vectors (see <see cref="ILanes{TSelf}"/>).</summary>
    private static class Passes<TV> where TV : struct, ILanes<TV>
    {
        /// <summary>See <see cref="KernelNetworkPasses.Forward"/>.</summary>
        internal static (Tensor Output, Tensor?[] Normalised, Tensor[] Mean, Tensor[] InverseDeviation, Tensor[] Varying) Forward(
            Tensor pairs, Tensor? rowWeights, IReadOnlyList<Tensor> parameters, IReadOnlyList<MaskedBatchNorm> norms, Activation activation, bool batchStatistics)
        {
            int layers = norms.Count;
            long rows = pairs.shape[0];
            var values = Values(pairs, parameters, layers);
            var outputs = new Tensor?[layers];                       // each hidden layer's z, then its x̂
            double totalWeight = batchStatistics && rowWeights is not null ? TotalWeight(rowWeights) : rows;
            var (means, inverseDeviations, varying) = (new Tensor[layers], new Tensor[layers], new Tensor[layers]);
            for (int l = 0; l <= layers; l++)
            {
                // Pass l forms layer l − 1's activation (x̂ written over its z) and, below the top, layer l's z with its moments.
                bool top = l == layers;
                if (l == 0 && !batchStatistics)
                {
                    // The running statistics need no moments, and the first layer's z is not kept: nothing to pass over.
                    (means[0], inverseDeviations[0], varying[0]) = norms[0].RunningStatistics();
                    (values[0].Mean, values[0].InverseDeviation) = (Padded(means[0], values[0].OutPadded), Padded(inverseDeviations[0], values[0].OutPadded));
                    continue;
                }
                var target = l == 0 ? null : empty(rows, top ? values[l - 1].Out : values[l].Out, ScalarType.Float32);
                if (!top) outputs[l] = target;
                var below = l == 0 ? null : values[l - 1];
                var layer = top ? null : values[l];
                var keptData = Addresses(outputs);
                float* pairData = Data(pairs), targetData = target is null ? null : Data(target);
                float* weightData = rowWeights is null ? null : Data(rowWeights);
                var moments = RowBands.Run(rows, top || !batchStatistics ? 0 : 2 * layer!.OutPadded, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count, sums) =>
                {
                    float* input = stackalloc float[MaxWidth], x = stackalloc float[MaxWidth], z = stackalloc float[MaxWidth];
                    float* pairRow = pairData + first * values[0].In;
                    float* weights = weightData is null ? null : weightData + first;
                    for (long r = 0; r < count; r++, pairRow += values[0].In)
                    {
                        if (below is null) Copy(pairRow, input, values[0].In);
                        else
                        {
                            Normalised(values, keptData, l - 1, first + r, pairRow, x, z, normalise: true);
                            Activate(below, x, input, activation);
                        }
                        if (top)
                        {
                            StoreRow(targetData + (first + r) * below!.Out, input, below.Out);
                            continue;
                        }
                        Dense(layer!, input, z);
                        if (targetData is not null) StoreRow(targetData + (first + r) * layer!.Out, z, layer.Out);
                        if (sums is null) continue;
                        var w = TV.Create(weights is null ? 1f : weights[r]);
                        for (int k = 0; k < layer!.OutPadded; k += TV.Count)
                        {
                            var weighted = w * TV.Load(z + k);
                            weighted.AddTo(sums + k);
                            (weighted * TV.Load(z + k)).AddTo(sums + layer.OutPadded + k);
                        }
                    }
                });
                if (top) return (target!, outputs, means, inverseDeviations, varying);
                (means[l], inverseDeviations[l], varying[l]) = batchStatistics
                    ? norms[l].Statistics(Moments(moments, layer!, totalWeight))
                    : norms[l].RunningStatistics();
                layer!.Mean = Padded(means[l], layer.OutPadded);
                layer.InverseDeviation = Padded(inverseDeviations[l], layer.OutPadded);
            }
            throw new InvalidOperationException("unreachable: the top pass returns");
        }

        /// <summary>See <see cref="KernelNetworkPasses.Backward"/>.</summary>
        internal static (Tensor[] ParameterGradients, Tensor? PairsGradient) Backward(Tensor gradOutput, Tensor pairs, Tensor? rowWeights,
            IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor?> normalised, IReadOnlyList<Tensor> means, IReadOnlyList<Tensor> inverseDeviations,
            IReadOnlyList<Tensor> varying, Activation activation, bool batchStatistics, bool pairsNeedGradient)
        {
            int layers = means.Count;
            long rows = pairs.shape[0];
            var values = Values(pairs, parameters, layers);
            for (int l = 0; l < layers; l++)
                (values[l].Mean, values[l].InverseDeviation) = (Padded(means[l], values[l].OutPadded), Padded(inverseDeviations[l], values[l].OutPadded));
            var kept = normalised.ToArray();
            double totalWeight = rowWeights is null ? rows : TotalWeight(rowWeights);
            var gradients = new Tensor[4 * layers];
            Tensor? pairsGradient = pairsNeedGradient ? empty(rows, values[0].In, ScalarType.Float32) : null;
            Tensor? above = null;                                     // ∂y of the layer above the pass's
            for (int p = layers - 1; p >= -1; p--)
            {
                // Pass p finishes layer p + 1 (its ∂z, weight and bias gradients) and, above the bottom, forms layer p's ∂y
                // with Σ∂y and Σ∂y·x̂.
                var layer = p >= 0 ? values[p] : null;
                var finished = p + 1 < layers ? values[p + 1] : null;
                var target = layer is null ? null
                    : above is not null && above.shape[1] == layer.Out ? above : empty(rows, layer.Out, ScalarType.Float32);
                int weightSums = finished is null ? 0 : finished.OutPadded + finished.Out * finished.InPadded;
                int sumCount = weightSums + (layer is null ? 0 : 2 * layer.OutPadded);
                var keptData = Addresses(kept);
                float* pairData = Data(pairs), targetData = target is null ? null : Data(target), incomingData = above is null ? null : Data(above);
                float* gradientData = Data(gradOutput), pairsGradientData = pairsGradient is null ? null : Data(pairsGradient);
                float* weightData = rowWeights is null || !batchStatistics ? null : Data(rowWeights);
                var sums = RowBands.Run(rows, sumCount, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, count, totals) =>
                {
                    float* gradient = stackalloc float[MaxWidth], x = stackalloc float[MaxWidth], scratch = stackalloc float[MaxWidth];
                    float* dzBlock = stackalloc float[BlockRows * MaxWidth], inputBlock = stackalloc float[BlockRows * MaxWidth], sigmoid = stackalloc float[MaxWidth];
                    var tile = finished is null ? [] : new float[finished.Out * finished.InPadded];
                    float* pairRow = pairData + first * values[0].In;
                    float* weights = weightData is null ? null : weightData + first;
                    fixed (float* tileSums = tile)
                    {
                        for (long r = 0; r < count; r++, pairRow += values[0].In)
                        {
                            long row = first + r;
                            int slot = (int)(r % BlockRows);
                            float* dz = dzBlock + slot * MaxWidth, input = inputBlock + slot * MaxWidth;
                            if (finished is null) LoadRow(gradientData + row * layer!.Out, gradient, layer.Out);
                            else
                            {
                                // Layer p + 1's ∂z = s·∂y − w·(m + x̂·v), then its gradients and ∂z·W, the gradient of its input.
                                LoadRow(incomingData + row * finished.Out, dz, finished.Out);
                                Normalised(values, keptData, p + 1, row, pairRow, x, scratch, normalise: false);
                                NormalisationGradient(finished, weights is null ? 1f : weights[r], x, dz, totals);
                                if (layer is null) Copy(pairRow, input, finished.In);
                                else
                                {
                                    Normalised(values, keptData, p, row, pairRow, x, scratch, normalise: false);
                                    Activate(layer, x, input, activation, sigmoid);
                                }
                                if (slot == BlockRows - 1) AddOuterProducts(tileSums, dzBlock, inputBlock, BlockRows, finished);
                                if (r % TileRows == TileRows - 1) Flush(tileSums, totals + finished.OutPadded, tile.Length);
                                if (layer is null)
                                {
                                    if (pairsGradientData is null) continue;
                                    InputGradient(finished, dz, gradient);
                                    StoreRow(pairsGradientData + row * finished.In, gradient, finished.In);
                                    continue;
                                }
                                InputGradient(finished, dz, gradient);
                            }
                            if (finished is null)
                            {
                                Normalised(values, keptData, p, row, pairRow, x, scratch, normalise: false);
                                Activate(layer!, x, input, activation, sigmoid);
                            }
                            ActivationGradient(layer!, activation, x, sigmoid, gradient, totals + weightSums);
                            StoreRow(targetData + row * layer!.Out, gradient, layer.Out);
                        }
                        if (finished is not null)
                        {
                            AddOuterProducts(tileSums, dzBlock, inputBlock, (int)(count % BlockRows), finished);
                            Flush(tileSums, totals + finished.OutPadded, tile.Length);
                        }
                    }
                });
                if (finished is not null)
                {
                    int q = p + 1;
                    var weightGradient = new float[finished.Out * finished.In];
                    for (int j = 0; j < finished.Out; j++)
                        for (int i = 0; i < finished.In; i++) weightGradient[j * finished.In + i] = (float)sums[finished.OutPadded + j * finished.InPadded + i];
                    gradients[4 * q] = tensor(weightGradient, [finished.Out, finished.In], ScalarType.Float32);
                    gradients[4 * q + 1] = Column(sums, 0, finished.Out);
                }
                if (layer is not null)
                {
                    var gradientSums = sums.AsSpan(weightSums, layer.Out);
                    var normalisedSums = sums.AsSpan(weightSums + layer.OutPadded, layer.Out);
                    gradients[4 * p + 2] = Column(sums, weightSums + layer.OutPadded, layer.Out);   // γ: Σ∂y·x̂
                    gradients[4 * p + 3] = Column(sums, weightSums, layer.Out);                     // β: Σ∂y
                    var varies = HostReads.Values<float>(varying[p].to(ScalarType.Float32).reshape(-1), "which of a batch norm's variances reached ε");
                    (layer.Scale, layer.MeanTerm, layer.SpreadTerm) = (new float[layer.OutPadded], new float[layer.OutPadded], new float[layer.OutPadded]);
                    for (int k = 0; k < layer.Out; k++)
                    {
                        double scale = (double)layer.Gamma[k] * layer.InverseDeviation[k];
                        layer.Scale[k] = (float)scale;
                        if (!batchStatistics) continue;
                        layer.MeanTerm[k] = (float)(scale * gradientSums[k] / totalWeight);
                        layer.SpreadTerm[k] = (float)(scale * normalisedSums[k] * varies[k] / totalWeight);
                    }
                }
                if (above is not null && !ReferenceEquals(above, target)) above.Dispose();
                above = target;
            }
            return (gradients, pairsGradient);
        }

        /// <summary>A row's ∂z = s·∂y − w·(m + x̂·v) of a batch-normalised layer, over its ∂y in <paramref name="dz"/>, adding it to Σ∂z (the bias gradient).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void NormalisationGradient(LayerValues layer, float rowWeight, float* x, float* dz, double* sums)
        {
            var w = TV.Create(rowWeight);
            fixed (float* scale = layer.Scale, meanTerm = layer.MeanTerm, spreadTerm = layer.SpreadTerm)
                for (int k = 0; k < layer.OutPadded; k += TV.Count)
                {
                    var value = TV.Load(dz + k) * TV.Load(scale + k) - w * (TV.Load(meanTerm + k) + TV.Load(x + k) * TV.Load(spreadTerm + k));
                    value.Store(dz + k);
                    value.AddTo(sums + k);
                }
        }

        /// <summary>A row's ∂y = ∂a·act′(γ·x̂ + β) over its ∂a in <paramref name="gradient"/>, adding Σ∂y and Σ∂y·x̂ (β's and γ's gradients).</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void ActivationGradient(LayerValues layer, Activation activation, float* x, float* sigmoid, float* gradient, double* sums)
        {
            fixed (float* gamma = layer.Gamma, beta = layer.Beta)
                for (int k = 0; k < layer.OutPadded; k += TV.Count)
                {
                    var xk = TV.Load(x + k);
                    var gy = TV.Load(gradient + k) * Derivative(activation, TV.FusedMultiplyAdd(xk, TV.Load(gamma + k), TV.Load(beta + k)), TV.Load(sigmoid + k));
                    gy.Store(gradient + k);
                    gy.AddTo(sums + k);
                    (gy * xk).AddTo(sums + layer.OutPadded + k);
                }
        }

        /// <summary>
        /// Adds Σ_r ∂z_r ⊗ a_r over a block of <paramref name="count"/> rows (each MaxWidth apart) to a layer's
        /// weight-gradient tile (Out × InPadded): each tile row's vectors stay in registers across the block.
        /// </summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void AddOuterProducts(float* tile, float* dz, float* input, int count, LayerValues layer)
        {
            int width = layer.InPadded, j = 0;
            // Four tile rows at once, each with one or two vectors of sums: up to eight chains of additions side by side.
            for (; j + 4 <= layer.Out; j += 4)
            {
                float* t = tile + j * width;
                int i = 0;
                for (; i + 2 * TV.Count <= width; i += 2 * TV.Count)
                {
                    var s0 = TV.Load(t + i);
                    var s1 = TV.Load(t + width + i);
                    var s2 = TV.Load(t + 2 * width + i);
                    var s3 = TV.Load(t + 3 * width + i);
                    var u0 = TV.Load(t + i + TV.Count);
                    var u1 = TV.Load(t + width + i + TV.Count);
                    var u2 = TV.Load(t + 2 * width + i + TV.Count);
                    var u3 = TV.Load(t + 3 * width + i + TV.Count);
                    for (int r = 0; r < count; r++)
                    {
                        var a = TV.Load(input + r * MaxWidth + i);
                        var b = TV.Load(input + r * MaxWidth + i + TV.Count);
                        float* d = dz + r * MaxWidth + j;
                        var d0 = TV.Create(d[0]);
                        var d1 = TV.Create(d[1]);
                        var d2 = TV.Create(d[2]);
                        var d3 = TV.Create(d[3]);
                        s0 = TV.FusedMultiplyAdd(d0, a, s0); u0 = TV.FusedMultiplyAdd(d0, b, u0);
                        s1 = TV.FusedMultiplyAdd(d1, a, s1); u1 = TV.FusedMultiplyAdd(d1, b, u1);
                        s2 = TV.FusedMultiplyAdd(d2, a, s2); u2 = TV.FusedMultiplyAdd(d2, b, u2);
                        s3 = TV.FusedMultiplyAdd(d3, a, s3); u3 = TV.FusedMultiplyAdd(d3, b, u3);
                    }
                    s0.Store(t + i); s1.Store(t + width + i); s2.Store(t + 2 * width + i); s3.Store(t + 3 * width + i);
                    u0.Store(t + i + TV.Count); u1.Store(t + width + i + TV.Count); u2.Store(t + 2 * width + i + TV.Count); u3.Store(t + 3 * width + i + TV.Count);
                }
                for (; i < width; i += TV.Count)
                {
                    var s0 = TV.Load(t + i);
                    var s1 = TV.Load(t + width + i);
                    var s2 = TV.Load(t + 2 * width + i);
                    var s3 = TV.Load(t + 3 * width + i);
                    for (int r = 0; r < count; r++)
                    {
                        var a = TV.Load(input + r * MaxWidth + i);
                        float* d = dz + r * MaxWidth + j;
                        s0 = TV.FusedMultiplyAdd(TV.Create(d[0]), a, s0);
                        s1 = TV.FusedMultiplyAdd(TV.Create(d[1]), a, s1);
                        s2 = TV.FusedMultiplyAdd(TV.Create(d[2]), a, s2);
                        s3 = TV.FusedMultiplyAdd(TV.Create(d[3]), a, s3);
                    }
                    s0.Store(t + i); s1.Store(t + width + i); s2.Store(t + 2 * width + i); s3.Store(t + 3 * width + i);
                }
            }
            for (; j < layer.Out; j++)
                for (int i = 0; i < width; i += TV.Count)
                {
                    float* t = tile + j * width + i;
                    var sum = TV.Load(t);
                    for (int r = 0; r < count; r++) sum = TV.FusedMultiplyAdd(TV.Create(dz[r * MaxWidth + j]), TV.Load(input + r * MaxWidth + i), sum);
                    sum.Store(t);
                }
        }

        /// <summary>∂a = Σ_j ∂z_j·W[j, ·] for one row.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void InputGradient(LayerValues layer, float* dz, float* gradient)
        {
            fixed (float* weight = layer.WeightByOutput)
                Product(dz, layer.Out, weight, layer.InPadded, null, gradient);
        }

        /// <summary>Adds a float tile into double totals and clears it.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void Flush(float* tile, double* totals, int count)
        {
            for (int i = 0; i < count; i += TV.Count)
            {
                TV.Load(tile + i).AddTo(totals + i);
                TV.Zero.Store(tile + i);
            }
        }

        private static LayerValues[] Values(Tensor pairs, IReadOnlyList<Tensor> parameters, int layers)
        {
            var values = new LayerValues[layers];
            for (int l = 0; l < layers; l++)
            {
                var weight = HostReads.Values<float>(parameters[4 * l].contiguous(), "a kernel network's weights");
                int outs = (int)parameters[4 * l].shape[0], ins = (int)parameters[4 * l].shape[1];
                var layer = values[l] = new LayerValues { In = ins, Out = outs, InPadded = Round(ins), OutPadded = Round(outs) };
                if (l == 0 && ins != pairs.shape[1] || l > 0 && ins != values[l - 1].Out)
                    throw new ArgumentException($"The kernel network's layer {l} takes {ins} inputs where {(l == 0 ? pairs.shape[1] : values[l - 1].Out)} come.");
                layer.WeightByInput = new float[ins * layer.OutPadded];
                layer.WeightByOutput = new float[outs * layer.InPadded];
                for (int j = 0; j < outs; j++)
                    for (int i = 0; i < ins; i++)
                        layer.WeightByInput[i * layer.OutPadded + j] = layer.WeightByOutput[j * layer.InPadded + i] = weight[j * ins + i];
                (layer.Bias, layer.Gamma, layer.Beta) = (Padded(parameters[4 * l + 1], layer.OutPadded), Padded(parameters[4 * l + 2], layer.OutPadded), Padded(parameters[4 * l + 3], layer.OutPadded));
            }
            return values;
        }

        /// <summary>
        /// Layer <paramref name="l"/>'s x̂ of one row into <paramref name="x"/>: formed from the pairs for the first layer;
        /// for the others read from <paramref name="kept"/>, which holds z until the forward pass normalises it in place
        /// (<paramref name="normalise"/>) and x̂ after.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Normalised(LayerValues[] values, nint[] kept, int l, long row, float* pairRow, float* x, float* scratch, bool normalise)
        {
            var layer = values[l];
            if (l > 0 && !normalise)
            {
                LoadRow((float*)kept[l] + row * layer.Out, x, layer.Out);
                return;
            }
            float* z = scratch;
            float* stored = null;
            if (l == 0) Dense(layer, pairRow, z);
            else
            {
                stored = (float*)kept[l] + row * layer.Out;
                LoadRow(stored, z, layer.Out);
            }
            fixed (float* mean = layer.Mean, inverse = layer.InverseDeviation)
                for (int k = 0; k < layer.OutPadded; k += TV.Count)
                    ((TV.Load(z + k) - TV.Load(mean + k)) * TV.Load(inverse + k)).Store(x + k);
            if (stored is not null) StoreRow(stored, x, layer.Out);
        }

        /// <summary>z = b + W·a for one row (padding lanes 0).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Dense(LayerValues layer, float* input, float* z)
        {
            fixed (float* weight = layer.WeightByInput, bias = layer.Bias)
                Product(input, layer.In, weight, layer.OutPadded, bias, z);
        }

        /// <summary>
        /// output = initial + Σ_i input_i·(row i of <paramref name="matrix"/>) over rows of <paramref name="width"/> floats
        /// (whole vectors; <paramref name="initial"/> null: zeros). Several vectors of sums at once, so that the chain of
        /// fused multiply-adds into each does not wait on the one before (their latency, not their number, bounds a row).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Product(float* input, int count, float* matrix, int width, float* initial, float* output)
        {
            int k = 0;
            for (; k + 4 * TV.Count <= width; k += 4 * TV.Count)
            {
                var s0 = initial is null ? TV.Zero : TV.Load(initial + k);
                var s1 = initial is null ? TV.Zero : TV.Load(initial + k + TV.Count);
                var s2 = initial is null ? TV.Zero : TV.Load(initial + k + 2 * TV.Count);
                var s3 = initial is null ? TV.Zero : TV.Load(initial + k + 3 * TV.Count);
                // Even and odd inputs into separate sums: eight chains side by side.
                var t0 = TV.Zero;
                var t1 = TV.Zero;
                var t2 = TV.Zero;
                var t3 = TV.Zero;
                float* row = matrix + k;
                int i = 0;
                for (; i + 2 <= count; i += 2, row += 2 * width)
                {
                    var a = TV.Create(input[i]);
                    var b = TV.Create(input[i + 1]);
                    float* next = row + width;
                    s0 = TV.FusedMultiplyAdd(a, TV.Load(row), s0);
                    t0 = TV.FusedMultiplyAdd(b, TV.Load(next), t0);
                    s1 = TV.FusedMultiplyAdd(a, TV.Load(row + TV.Count), s1);
                    t1 = TV.FusedMultiplyAdd(b, TV.Load(next + TV.Count), t1);
                    s2 = TV.FusedMultiplyAdd(a, TV.Load(row + 2 * TV.Count), s2);
                    t2 = TV.FusedMultiplyAdd(b, TV.Load(next + 2 * TV.Count), t2);
                    s3 = TV.FusedMultiplyAdd(a, TV.Load(row + 3 * TV.Count), s3);
                    t3 = TV.FusedMultiplyAdd(b, TV.Load(next + 3 * TV.Count), t3);
                }
                if (i < count)
                {
                    var a = TV.Create(input[i]);
                    s0 = TV.FusedMultiplyAdd(a, TV.Load(row), s0);
                    s1 = TV.FusedMultiplyAdd(a, TV.Load(row + TV.Count), s1);
                    s2 = TV.FusedMultiplyAdd(a, TV.Load(row + 2 * TV.Count), s2);
                    s3 = TV.FusedMultiplyAdd(a, TV.Load(row + 3 * TV.Count), s3);
                }
                (s0 + t0).Store(output + k); (s1 + t1).Store(output + k + TV.Count); (s2 + t2).Store(output + k + 2 * TV.Count); (s3 + t3).Store(output + k + 3 * TV.Count);
            }
            for (; k + 2 * TV.Count <= width; k += 2 * TV.Count)
            {
                // Two vectors of sums: four chains each over alternate inputs, added at the end.
                var s0 = initial is null ? TV.Zero : TV.Load(initial + k);
                var s1 = initial is null ? TV.Zero : TV.Load(initial + k + TV.Count);
                var t0 = TV.Zero;
                var t1 = TV.Zero;
                var u0 = TV.Zero;
                var u1 = TV.Zero;
                var v0 = TV.Zero;
                var v1 = TV.Zero;
                float* row = matrix + k;
                int i = 0;
                for (; i + 4 <= count; i += 4, row += 4 * width)
                {
                    var a = TV.Create(input[i]);
                    var b = TV.Create(input[i + 1]);
                    var c = TV.Create(input[i + 2]);
                    var d = TV.Create(input[i + 3]);
                    s0 = TV.FusedMultiplyAdd(a, TV.Load(row), s0);
                    s1 = TV.FusedMultiplyAdd(a, TV.Load(row + TV.Count), s1);
                    t0 = TV.FusedMultiplyAdd(b, TV.Load(row + width), t0);
                    t1 = TV.FusedMultiplyAdd(b, TV.Load(row + width + TV.Count), t1);
                    u0 = TV.FusedMultiplyAdd(c, TV.Load(row + 2 * width), u0);
                    u1 = TV.FusedMultiplyAdd(c, TV.Load(row + 2 * width + TV.Count), u1);
                    v0 = TV.FusedMultiplyAdd(d, TV.Load(row + 3 * width), v0);
                    v1 = TV.FusedMultiplyAdd(d, TV.Load(row + 3 * width + TV.Count), v1);
                }
                for (; i < count; i++, row += width)
                {
                    var a = TV.Create(input[i]);
                    s0 = TV.FusedMultiplyAdd(a, TV.Load(row), s0);
                    s1 = TV.FusedMultiplyAdd(a, TV.Load(row + TV.Count), s1);
                }
                ((s0 + t0) + (u0 + v0)).Store(output + k);
                ((s1 + t1) + (u1 + v1)).Store(output + k + TV.Count);
            }
            for (; k < width; k += TV.Count)
            {
                // One vector of sums: four chains over alternate inputs, added at the end.
                var s0 = initial is null ? TV.Zero : TV.Load(initial + k);
                var s1 = TV.Zero;
                var s2 = TV.Zero;
                var s3 = TV.Zero;
                float* row = matrix + k;
                int i = 0;
                for (; i + 4 <= count; i += 4, row += 4 * width)
                {
                    s0 = TV.FusedMultiplyAdd(TV.Create(input[i]), TV.Load(row), s0);
                    s1 = TV.FusedMultiplyAdd(TV.Create(input[i + 1]), TV.Load(row + width), s1);
                    s2 = TV.FusedMultiplyAdd(TV.Create(input[i + 2]), TV.Load(row + 2 * width), s2);
                    s3 = TV.FusedMultiplyAdd(TV.Create(input[i + 3]), TV.Load(row + 3 * width), s3);
                }
                for (; i < count; i++, row += width) s0 = TV.FusedMultiplyAdd(TV.Create(input[i]), TV.Load(row), s0);
                ((s0 + s1) + (s2 + s3)).Store(output + k);
            }
        }

        /// <summary>act(γ·x̂ + β) for one row; for Swish, the sigmoid of γ·x̂ + β into <paramref name="sigmoid"/> when given (its derivative needs it again).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Activate(LayerValues layer, float* x, float* output, Activation activation, float* sigmoid = null)
        {
            fixed (float* gamma = layer.Gamma, beta = layer.Beta)
                for (int k = 0; k < layer.OutPadded; k += TV.Count)
                {
                    var y = TV.FusedMultiplyAdd(TV.Load(x + k), TV.Load(gamma + k), TV.Load(beta + k));
                    if (activation != Activation.Swish)
                    {
                        TV.Max(y, TV.Zero).Store(output + k);
                        continue;
                    }
                    var s = TV.One / (TV.One + Exp(-y));
                    (y * s).Store(output + k);
                    if (sigmoid is not null) s.Store(sigmoid + k);
                }
        }

        /// <summary>
        /// e^x in float (Cephes' expf: x = k·ln 2 + r with |r| ≤ ln 2 / 2, e^r by a polynomial of degree 6, 2^k by the
        /// exponent bits), within 1 ulp; x is clamped to [−87.3, 88.3], which the sigmoid needs no more than. .NET's
        /// <c>Vector256.Exp</c> and <c>Vector512.Exp</c> compute in double, twice the work.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static TV Exp(TV x)
        {
            x = TV.Min(TV.Max(x, TV.Create(-87.3f)), TV.Create(88.3f));
            var k = TV.Round(x * TV.Create(1.44269504088896341f));
            var r = TV.FusedMultiplyAdd(k, TV.Create(-0.693359375f), x);
            r = TV.FusedMultiplyAdd(k, TV.Create(2.12194440e-4f), r);
            var p = TV.Create(1.9875691500E-4f);
            p = TV.FusedMultiplyAdd(p, r, TV.Create(1.3981999507E-3f));
            p = TV.FusedMultiplyAdd(p, r, TV.Create(8.3334519073E-3f));
            p = TV.FusedMultiplyAdd(p, r, TV.Create(4.1665795894E-2f));
            p = TV.FusedMultiplyAdd(p, r, TV.Create(1.6666665459E-1f));
            p = TV.FusedMultiplyAdd(p, r, TV.Create(5.0000001201E-1f));
            p = TV.FusedMultiplyAdd(p, r * r, r + TV.One);
            return p * TV.PowerOfTwo(k);
        }

        /// <summary>act′(y) from y and, for Swish, its sigmoid s: s·(1 + y·(1 − s)); the step for ReLU (0 at 0, as libtorch's).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static TV Derivative(Activation activation, TV y, TV sigmoid) => activation == Activation.Swish
            ? sigmoid * TV.FusedMultiplyAdd(y, TV.One - sigmoid, TV.One)
            : TV.Step(y);

        private static int Round(int width) => (width + TV.Count - 1) / TV.Count * TV.Count;

        /// <summary>A stored row of <paramref name="width"/> floats into a buffer padded with zeros.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void LoadRow(float* row, float* buffer, int width)
        {
            int k = 0;
            for (; k + TV.Count <= width; k += TV.Count) TV.Load(row + k).Store(buffer + k);
            if (k < width)
            {
                TV.Zero.Store(buffer + k);
                for (; k < width; k++) buffer[k] = row[k];
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreRow(float* row, float* buffer, int width)
        {
            int k = 0;
            for (; k + TV.Count <= width; k += TV.Count) TV.Load(buffer + k).Store(row + k);
            for (; k < width; k++) row[k] = buffer[k];
        }

    }

    private static Tensor Column(double[] sums, int start, int count) =>
        tensor(sums.AsSpan(start, count).ToArray().Select(v => (float)v).ToArray(), ScalarType.Float32);

    private static double TotalWeight(Tensor rowWeights) =>
        HostReads.Item<double>(rowWeights.sum(ScalarType.Float64), "the kernel network's total row weight");

    /// <summary>A layer's weighted moments from its sums Σw·z and Σw·z² and the rows' total weight.</summary>
    private static MaskedBatchNorm.RowMoments Moments(double[] sums, LayerValues layer, double count)
    {
        var (mean, spread) = (new double[layer.Out], new double[layer.Out]);
        for (int k = 0; k < layer.Out; k++)
        {
            mean[k] = sums[k] / Math.Max(count, 1);
            spread[k] = sums[layer.OutPadded + k] - sums[k] * mean[k];
        }
        return new MaskedBatchNorm.RowMoments(count, mean, spread);
    }

    private static float[] Padded(Tensor values, int width)
    {
        var padded = new float[width];
        HostReads.Values<float>(values.detach().to(ScalarType.Float32).reshape(-1), "a kernel network's per-channel values").CopyTo(padded, 0);
        return padded;
    }

    private static void Copy(float* from, float* to, int count)
    {
        for (int i = 0; i < count; i++) to[i] = from[i];
    }

    private static float* Data(Tensor t) => (float*)TensorData.Of(t);

    /// <summary>The first elements of the layers' kept rows (0 where none).</summary>
    private static nint[] Addresses(IReadOnlyList<Tensor?> kept) => kept.Select(t => t is null ? 0 : TensorData.Of(t)).ToArray();
}
