using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>The nonlinearity of a LieConv network.</summary>
public enum Activation
{
    /// <summary>x·sigmoid(x), the original's default.</summary>
    Swish,
    /// <summary>max(x, 0).</summary>
    ReLU,
}

internal static class ActivationFunctions
{
    public static Tensor Apply(this Activation activation, Tensor x) => activation switch
    {
        Activation.Swish => nn.functional.silu(x),
        Activation.ReLU => nn.functional.relu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };
}
