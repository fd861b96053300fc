using static TorchSharp.torch;

namespace LieConv.Training;

/// <summary>
/// The evaluation metrics of the original trainers (reference §5.2), as per-batch means. Each returns a
/// 0-dimensional tensor on the inputs' device; <see cref="MetricAverager"/> combines batches without a host sync per batch.
/// </summary>
public static class Metrics
{
    /// <summary>
    /// Classifier accuracy: the fraction of rows whose arg-max logit equals the label. As in the original, a row
    /// labelled <see cref="Losses.IgnoreIndex"/> counts (as wrong) — RotMNIST has none.
    /// </summary>
    public static Tensor Accuracy(Tensor logits, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.dim() != 2 || labels.dim() != 1 || labels.shape[0] != logits.shape[0])
            throw new ArgumentException($"Expected logits (B, C) and labels (B); got ({Losses.Shape(logits)}) and ({Losses.Shape(labels)}).");
        return logits.argmax(-1).eq(labels).to(ScalarType.Float32).mean();
    }

    /// <summary>
    /// Molecule MAE in the target's own units: mean |(y·σ + μ) − t| for the standardised output y. Computed in
    /// float64 because μ can be large next to the errors (a float32 QM9 energy resolves only about 1 meV).
    /// </summary>
    public static Tensor MeanAbsoluteError(Tensor prediction, Tensor target, TargetScaling scaling)
    {
        ArgumentNullException.ThrowIfNull(scaling);
        Losses.RequireSameShape(prediction, target);
        return (prediction.to(ScalarType.Float64) * scaling.Std + scaling.Mean - target.to(ScalarType.Float64)).abs().mean();
    }

    /// <summary>Mean squared error (the dynamics metric 'MSE', equal to its loss).</summary>
    public static Tensor MeanSquaredError(Tensor prediction, Tensor target) => Losses.MeanSquaredError(prediction, target);
}
