namespace LieConv.Training;

/// <summary>λ(e) = 1: the base learning rate throughout.</summary>
public sealed class ConstantSchedule : ILearningRateSchedule
{
    /// <summary>The one shared instance.</summary>
    public static ConstantSchedule Instance { get; } = new();

    private ConstantSchedule() { }

    /// <inheritdoc />
    public double Factor(double epoch) => 1.0;
}
