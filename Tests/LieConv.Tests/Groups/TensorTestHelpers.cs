using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Groups;

internal static class TensorTestHelpers
{
    public static double MaxAbs(Tensor t) => t.numel() == 0 ? 0 : t.abs().max().to(ScalarType.Float64).item<double>();

    /// <summary>max |a − b| / max(1, max |b|).</summary>
    public static double RelativeError(Tensor actual, Tensor expected) =>
        MaxAbs(actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)) / Math.Max(1, MaxAbs(expected));

    public static double[,] Matrix(Tensor m)
    {
        var values = m.to(ScalarType.Float64).contiguous().data<double>().ToArray();
        int r = (int)m.shape[0], c = (int)m.shape[1];
        var result = new double[r, c];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) result[i, j] = values[i * c + j];
        return result;
    }

    public static bool AllFinite(Tensor t) => t.isfinite().all().item<bool>();
}
