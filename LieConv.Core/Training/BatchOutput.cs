using static TorchSharp.torch;

namespace LieConv.Training;

/// <summary>What the forward function returns for one batch.</summary>
/// <param name="Prediction">The network's output; its first dimension is the batch (the default sample count).</param>
/// <param name="Loss">The 0-dimensional loss to minimise (a mean over the batch).</param>
public readonly record struct BatchOutput(Tensor Prediction, Tensor Loss);
