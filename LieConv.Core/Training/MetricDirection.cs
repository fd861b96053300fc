namespace LieConv.Training;

/// <summary>Whether a selection metric improves downwards or upwards.</summary>
public enum MetricDirection
{
    /// <summary>Infer from the name (see <see cref="MetricDirections.Infer"/>).</summary>
    Auto,

    /// <summary>Smaller is better (errors, losses).</summary>
    Minimize,

    /// <summary>Larger is better (accuracy).</summary>
    Maximize,
}
