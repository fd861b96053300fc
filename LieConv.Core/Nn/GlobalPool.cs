using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>Pools per-point features (B, N, C) over the valid points of each cloud (reference §3.3).</summary>
public static class GlobalPool
{
    /// <summary>The sum, or with <paramref name="mean"/> the mean, of the valid points' features: (B, C).</summary>
    public static Tensor Pool(Tensor values, Tensor mask, bool mean)
    {
        var weight = mask.unsqueeze(-1).to(values.dtype);
        var total = (values * weight).sum(1);
        return mean ? total / weight.sum(1).clamp_min(1) : total;
    }
}
