using LieConv.Runtime;
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
    /// <remarks>Where the gradient will be differentiated again (<see cref="SecondOrderGradients"/>), Swish takes
    /// the route whose gradient graph is small (<see cref="Nn.Swish"/>); elsewhere libtorch's fused kernels.</remarks>
    public static Tensor Apply(this Activation activation, Tensor x) => activation switch
    {
        Activation.Swish => TakesSecondOrderRoute ? Swish.Compute(x) : nn.functional.silu(x),
        Activation.ReLU => nn.functional.relu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation."),
    };

    /// <summary>Whether the activations here build graphs for a second differentiation.</summary>
    internal static bool TakesSecondOrderRoute => SecondOrderGradients.Expected && is_grad_enabled();

    /// <summary>The activation as a module, for the <see cref="TorchSharp.Modules.Sequential"/> bodies of the dynamics networks.</summary>
    public static nn.Module<Tensor, Tensor> AsModule(this Activation activation) => Enum.IsDefined(activation)
        ? new ActivationLayer(activation)
        : throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
}

/// <summary>An <see cref="Activation"/> as a module (no parameters, so state dictionaries are those of libtorch's modules).</summary>
internal sealed class ActivationLayer : nn.Module<Tensor, Tensor>
{
    private readonly Activation activation;

    public ActivationLayer(Activation activation) : base(activation.ToString())
    {
        this.activation = activation;
    }

    public override Tensor forward(Tensor x) => activation.Apply(x);
}
