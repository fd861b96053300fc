using static TorchSharp.torch;

namespace LieConv.Training;

/// <summary>
/// The training losses of the original trainers (reference §5.2). Each returns a 0-dimensional tensor on the
/// inputs' device and never reads a value back to the host.
/// </summary>
public static class Losses
{
    /// <summary>The label that cross-entropy ignores (PyTorch's default).</summary>
    public const long IgnoreIndex = -100;

    /// <summary>
    /// Classifier loss: mean cross-entropy of <paramref name="logits"/> (B, C) against class indices
    /// <paramref name="labels"/> (B), skipping labels equal to <see cref="IgnoreIndex"/>; no class weights.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.dim() != 2 || labels.dim() != 1 || labels.shape[0] != logits.shape[0])
            throw new ArgumentException($"Expected logits (B, C) and labels (B); got ({Shape(logits)}) and ({Shape(labels)}).");
        return nn.functional.cross_entropy(logits, labels, ignore_index: IgnoreIndex);
    }

    /// <summary>
    /// Molecule loss: mean |y − (t − μ)/σ|, an L1 loss between the network output y and the standardised target.
    /// </summary>
    public static Tensor StandardisedL1(Tensor prediction, Tensor target, TargetScaling scaling)
    {
        ArgumentNullException.ThrowIfNull(scaling);
        RequireSameShape(prediction, target);
        return (prediction - (target - scaling.Mean) / scaling.Std).abs().mean();
    }

    /// <summary>Dynamics loss: mean squared error between prediction and target.</summary>
    public static Tensor MeanSquaredError(Tensor prediction, Tensor target)
    {
        RequireSameShape(prediction, target);
        return (prediction - target).square().mean();
    }

    // Broadcasting (B) against (B, 1) would silently average a (B, B) matrix of wrong differences.
    internal static void RequireSameShape(Tensor prediction, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (!prediction.shape.SequenceEqual(target.shape))
            throw new ArgumentException($"Prediction ({Shape(prediction)}) and target ({Shape(target)}) must have the same shape.");
    }

    internal static string Shape(Tensor t) => string.Join(", ", t.shape);
}
