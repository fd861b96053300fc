using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using LieConv.Runtime;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// The elementwise work around one batch-normalised layer of the kernel network (<see cref="WeightNetFunction"/>),
/// without a graph: normalise and activate, activate again from x̂, and the two gradient steps of the backward pass,
/// each with the per-channel sums it needs. On the CPU in float32 each is one pass over the (N, C) rows; elsewhere
/// libtorch's operations do the same arithmetic. Networks that <see cref="KernelNetworkPasses"/> takes (float32 on the
/// CPU, 2¹⁷ rows and more: RotMNIST SE(2)'s and QM9 SE(3)'s) do not come here.
/// </summary>
/// <remarks>
/// The kernel network runs on every (query, neighbour) pair, so its elementwise steps move the largest tensors of a
/// step. Written as libtorch operations, the backward pass of one layer allocated three new (N, C) tensors and
/// passed over them about fifteen times (y = γx̂ + β, the sigmoid, four steps of the activation's derivative, ∂y·x̂,
/// two steps of batch norm's gradient, the layer's input formed again, the column sums). Here each step is one pass
/// that writes over the tensor it reads where that tensor is its own (∂y over the incoming gradient, ∂z over ∂y), so
/// the backward pass allocates one new tensor a layer (its input, formed again): fewer large blocks come and go within
/// a step, and the heap they fragment stays smaller (RotMNIST SE(2)'s step peak 2,534–2,610 → 2,024–2,118 MB). It is
/// not faster: the sigmoid's exponential and division bound these passes, and libtorch's kernels compute them as
/// quickly (on two threads, a pass over 600k × 32 floats: 15 ms to activate, against 17), and on rows of a few MB
/// they are slower than libtorch's (which the caches serve), so the loops take rows of 2²² entries and more only. Bands of rows run on
/// libtorch's number of threads; per-channel sums are added in double (float sums over a band lose the small
/// differences batch norm's gradient is made of).
/// </remarks>
internal static unsafe class NormActivationPasses
{
    private static long loops;

    /// <summary>How many passes ran as loops in this process (tests tell the routes apart by it).</summary>
    public static long Loops => Interlocked.Read(ref loops);

    /// <summary>
    /// Turns <paramref name="z"/> (N, C) into x̂ = (z − μ)·σ⁻¹ in place and returns act(γ·x̂ + β).
    /// </summary>
    public static Tensor NormaliseAndActivate(Tensor z, Tensor mean, Tensor inverseDeviation, Tensor gamma, Tensor beta, Activation activation)
    {
        if (!TakesLoop(z))
        {
            z.sub_(mean).mul_(inverseDeviation);
            return ActivateInPlace(activation, addcmul(beta, z, gamma, 1));
        }
        var output = empty_like(z);
        var channel = ChannelValues(z, mean, inverseDeviation, gamma, beta);
        int channels = (int)z.shape[1];
        RunBands(z.shape[0], 0, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, rows, _) =>
        {
            float* zp = Data(z) + first * channels, op = Data(output) + first * channels;
            fixed (float* c = channel)
                for (long r = 0; r < rows; r++, zp += channels, op += channels)
                    for (int k = 0; k < channels; k += Vector256<float>.Count)
                    {
                        var x = (Load(zp, k, channels) - Load(c, k, channels)) * Load(c + channels, k, channels);
                        Store(zp, k, channels, x);
                        Store(op, k, channels, Activate(activation, x * Load(c + 2 * channels, k, channels) + Load(c + 3 * channels, k, channels)));
                    }
        });
        return output;
    }

    /// <summary>act(γ·x̂ + β) for <paramref name="normalised"/> x̂ (N, C): a layer's output formed again.</summary>
    public static Tensor Activate(Tensor normalised, Tensor gamma, Tensor beta, Activation activation)
    {
        if (!TakesLoop(normalised)) return ActivateInPlace(activation, addcmul(beta, normalised, gamma, 1));
        var output = empty_like(normalised);
        var channel = ChannelValues(normalised, gamma, beta);
        int channels = (int)normalised.shape[1];
        RunBands(normalised.shape[0], 0, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, rows, _) =>
        {
            float* xp = Data(normalised) + first * channels, op = Data(output) + first * channels;
            fixed (float* c = channel)
                for (long r = 0; r < rows; r++, xp += channels, op += channels)
                    for (int k = 0; k < channels; k += Vector256<float>.Count)
                        Store(op, k, channels, Activate(activation, Load(xp, k, channels) * Load(c, k, channels) + Load(c + channels, k, channels)));
        });
        return output;
    }

    /// <summary>
    /// ∂y = g·act′(γ·x̂ + β) for the incoming gradient <paramref name="g"/> (N, C), with Σ ∂y and Σ ∂y·x̂ over the
    /// rows (C each): written over g where <paramref name="mayOverwrite"/>, else into a new tensor.
    /// </summary>
    public static (Tensor GradY, Tensor Sum, Tensor SumTimesNormalised) ActivationGradient(
        Tensor normalised, Tensor g, Tensor gamma, Tensor beta, Activation activation, bool mayOverwrite)
    {
        if (!TakesLoop(normalised, g))
        {
            var y = addcmul(beta, normalised, gamma, 1);
            var gy = GradientThroughActivation(activation, y, g);
            using var rows = ones(1, normalised.shape[0], normalised.dtype, normalised.device);
            using var product = gy * normalised;
            return (gy, rows.mm(gy).squeeze(0), rows.mm(product).squeeze(0));
        }
        var output = mayOverwrite ? g : empty_like(g);
        var channel = ChannelValues(normalised, gamma, beta);
        int channels = (int)normalised.shape[1], padded = Padded(channels);
        var sums = RunBands(normalised.shape[0], 2 * padded, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, rows, bandSums) =>
        {
            float* xp = Data(normalised) + first * channels, gp = Data(g) + first * channels, op = Data(output) + first * channels;
            fixed (float* c = channel)
                for (long r = 0; r < rows; r++, xp += channels, gp += channels, op += channels)
                    for (int k = 0; k < channels; k += Vector256<float>.Count)
                    {
                        var x = Load(xp, k, channels);
                        var gy = Load(gp, k, channels) * Derivative(activation, x * Load(c, k, channels) + Load(c + channels, k, channels));
                        Store(op, k, channels, gy);
                        RowBands.Accumulate(bandSums + k, gy);
                        RowBands.Accumulate(bandSums + padded + k, gy * x);
                    }
        });
        return (output, Column(sums, 0, g), Column(sums, 1, g));
    }

    /// <summary>
    /// Batch norm's gradient by its input, ∂z = ∂y·s − w·(m + x̂·v) with per-channel s, m and v (C each) and row
    /// weights w (N; null: one each), written over <paramref name="gradY"/>; with Σ ∂z over the rows (the dense
    /// layer's bias gradient). Null <paramref name="meanTerm"/> and <paramref name="spreadTerm"/> leave ∂y·s.
    /// </summary>
    public static (Tensor GradZ, Tensor Sum) NormGradient(Tensor gradY, Tensor normalised, Tensor scale, Tensor? meanTerm, Tensor? spreadTerm, Tensor? rowWeights)
    {
        if (!TakesLoop(gradY, normalised, rowWeights))
        {
            var gz = gradY.mul_(scale);
            if (meanTerm is not null)
            {
                using var centre = addcmul(meanTerm, normalised, spreadTerm!, 1);
                gz.sub_(rowWeights is null ? centre : centre.mul_(rowWeights.unsqueeze(1)));
            }
            using var rows = ones(1, gradY.shape[0], gradY.dtype, gradY.device);
            return (gz, rows.mm(gz).squeeze(0));
        }
        bool centred = meanTerm is not null;
        var channel = centred ? ChannelValues(gradY, scale, meanTerm!, spreadTerm!) : ChannelValues(gradY, scale);
        int channels = (int)gradY.shape[1];
        var sums = RunBands(gradY.shape[0], Padded(channels), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, rows, bandSums) =>
        {
            float* gp = Data(gradY) + first * channels, xp = Data(normalised) + first * channels;
            float* wp = rowWeights is null ? null : Data(rowWeights) + first;
            fixed (float* c = channel)
                for (long r = 0; r < rows; r++, gp += channels, xp += channels)
                {
                    var w = Vector256.Create(wp is null ? 1f : wp[r]);
                    for (int k = 0; k < channels; k += Vector256<float>.Count)
                    {
                        var gz = Load(gp, k, channels) * Load(c, k, channels);
                        if (centred)
                            gz -= w * (Load(c + channels, k, channels) + Load(xp, k, channels) * Load(c + 2 * channels, k, channels));
                        Store(gp, k, channels, gz);
                        RowBands.Accumulate(bandSums + k, gz);
                    }
                }
        });
        return (gradY, Column(sums, 0, gradY));
    }

    /// <summary>
    /// Entries of the (N, C) rows from which the loops run; below, libtorch's kernels (on a few MB, which stay in
    /// the caches and fragment nothing, they are faster: 20k × 80 entries a network, 3.7 against 6.4 ms forward).
    /// </summary>
    internal static long LoopMinimumEntries { get; set; } = 1L << 22;

    /// <summary>
    /// Whether the loops take a pass over <paramref name="rows"/>: enough entries, and it and the <paramref name="others"/>
    /// it reads float32, in CPU memory, row after row, outside a graph.
    /// </summary>
    private static bool TakesLoop(Tensor rows, params Tensor?[] others) =>
        rows.numel() >= LoopMinimumEntries && IsLoopGround(rows) && others.All(t => t is null || IsLoopGround(t));

    private static bool IsLoopGround(Tensor t) =>
        t.dtype == ScalarType.Float32 && HostReads.AreFree(t) && t.is_contiguous() && !(is_grad_enabled() && t.requires_grad);

    /// <summary>One pass over bands of rows (<see cref="RowBands"/>), counted; returns its sums, C padded to whole vectors each.</summary>
    private static double[] RunBands(long rows, int sumCount, RowBands.Band band)
    {
        var sums = RowBands.Run(rows, sumCount, band);
        Interlocked.Increment(ref loops);
        return sums;
    }

    /// <summary>Whole vectors' worth of channels: the width of the loops' double sums.</summary>
    private static int Padded(int channels) => (channels + Vector256<float>.Count - 1) / Vector256<float>.Count * Vector256<float>.Count;

    /// <summary>Column <paramref name="index"/> (C values, padded apart) of the sums, as a tensor like <paramref name="like"/>.</summary>
    private static Tensor Column(double[] sums, int index, Tensor like)
    {
        int channels = (int)like.shape[1];
        return tensor(sums.Skip(index * Padded(channels)).Take(channels).Select(v => (float)v).ToArray(), dtype: ScalarType.Float32, device: like.device);
    }

    /// <summary>The per-channel values the loops read, one row of C after another.</summary>
    private static float[] ChannelValues(Tensor like, params Tensor[] values)
    {
        int channels = (int)like.shape[1];
        var all = new float[values.Length * channels];
        for (int i = 0; i < values.Length; i++)
        {
            using var flat = values[i].detach().to(ScalarType.Float32).reshape(-1);
            if (flat.shape[0] != channels) throw new ArgumentException($"A per-channel value has {flat.shape[0]} entries for {channels} channels.");
            HostReads.Values<float>(flat, "a batch norm's per-channel values").CopyTo(all, i * channels);
        }
        return all;
    }

    // Vectors of 8 channels; the last vector of a row whose width is not a multiple of 8 is read and written in part.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load(float* row, int k, int channels) =>
        k + Vector256<float>.Count <= channels ? Vector256.Load(row + k) : Partial(row, k, channels);

    private static Vector256<float> Partial(float* row, int k, int channels)
    {
        var lanes = stackalloc float[Vector256<float>.Count];
        for (int i = 0; i < channels - k; i++) lanes[i] = row[k + i];
        return Vector256.Load(lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* row, int k, int channels, Vector256<float> value)
    {
        if (k + Vector256<float>.Count <= channels)
        {
            value.Store(row + k);
            return;
        }
        for (int i = 0; i < channels - k; i++) row[k + i] = value.GetElement(i);
    }

    /// <summary>Swish y·s(y) or ReLU.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Activate(Activation activation, Vector256<float> y) => activation switch
    {
        Activation.Swish => y / (Vector256<float>.One + Vector256.Exp(-y)),
        _ => Vector256.Max(y, Vector256<float>.Zero),
    };

    /// <summary>act′(y): s·(1 + y·(1 − s)) for Swish, the step for ReLU (0 at 0, as libtorch's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Derivative(Activation activation, Vector256<float> y)
    {
        if (activation != Activation.Swish)
            return Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<float>.Zero), Vector256<float>.One, Vector256<float>.Zero);
        var s = Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-y));
        return s * (Vector256<float>.One + y * (Vector256<float>.One - s));
    }

    private static Tensor ActivateInPlace(Activation activation, Tensor y) => activation switch
    {
        Activation.Swish => nn.functional.silu(y, inplace: true),
        Activation.ReLU => nn.functional.relu(y, inplace: true),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>g·act′(y) written over <paramref name="y"/>.</summary>
    private static Tensor GradientThroughActivation(Activation activation, Tensor y, Tensor g)
    {
        if (activation == Activation.ReLU) return y.gt_(0).mul_(g);
        using var s = y.sigmoid();
        return y.addcmul_(y, s, -1).add_(1).mul_(s).mul_(g);   // s·(1 + y·(1 − s))·g
    }

    private static float* Data(Tensor t) => (float*)TensorData.Of(t);
}
