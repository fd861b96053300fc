using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// Batch normalisation of features (…, C) over the entries where a mask (…) is true (reference §3.1).
/// </summary>
/// <remarks>
/// Same statistics as the original, for weight compatibility: the biased variance normalises, the unbiased one
/// feeds the running estimate (momentum 0.1), and the standard deviation is √max(var, ε) — a clamp, not var + ε.
/// Masked entries are normalised like the others (the original zeroes them first, giving β − mean·γ/σ); either
/// way downstream layers ignore them, and skipping the zeroing saves a full pass over the largest tensors of the
/// network (the per-pair kernel activations). The statistics are weighted sums computed as matrix products.
/// </remarks>
public sealed class MaskedBatchNorm : nn.Module<Tensor, Tensor, Tensor>
{
    private const double Momentum = 0.1;
    private const double Epsilon = 1e-5;

    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly Tensor running_mean;
    private readonly Tensor running_var;

    /// <summary>Normalisation of <paramref name="channels"/> features.</summary>
    public MaskedBatchNorm(long channels) : base(nameof(MaskedBatchNorm))
    {
        weight = nn.Parameter(ones(channels));
        bias = nn.Parameter(zeros(channels));
        running_mean = zeros(channels);
        running_var = ones(channels);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
        RegisterComponents();
    }

    /// <summary>
    /// Normalises <paramref name="x"/> (…, C) using the entries where <paramref name="mask"/> (…, broadcast to
    /// x's leading axes) is true — or, for a numeric mask, weighting each entry as that many entries.
    /// </summary>
    public override Tensor forward(Tensor x, Tensor mask)
    {
        Tensor mean, variance;
        if (training)
        {
            var flat = x.reshape(-1, x.shape[^1]);
            var valid = mask.expand(x.shape[..^1]).reshape(1, -1).to(x.dtype);
            var count = valid.sum();
            var total = matmul(valid, flat).squeeze(0);
            mean = total / count.clamp_min(1);
            var spread = matmul(valid, flat.square()).squeeze(0) - total * mean;
            variance = spread / count.clamp_min(1);
            using (no_grad())
            {
                running_mean.mul_(1 - Momentum).add_(Momentum * mean.detach());
                running_var.mul_(1 - Momentum).add_(Momentum * (spread.detach() / (count - 1).clamp_min(1)));
            }
        }
        else
        {
            mean = running_mean;
            variance = running_var;
        }
        var scale = weight / variance.clamp_min(Epsilon).sqrt();
        return addcmul(bias - mean * scale, x, scale, 1);
    }
}
