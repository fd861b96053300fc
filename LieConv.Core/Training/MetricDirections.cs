namespace LieConv.Training;

/// <summary>oil's rule for the direction of an early-stopping metric, from its name.</summary>
public static class MetricDirections
{
    private static readonly string[] MinimizeMarkers = ["mse", "mae", "loss", "err"];

    /// <summary>
    /// <see cref="MetricDirection.Minimize"/> for names containing mse, mae, loss or err; <see cref="MetricDirection.Maximize"/>
    /// for names containing acc (case-insensitive); otherwise null.
    /// </summary>
    public static MetricDirection? Infer(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (MinimizeMarkers.Any(m => name.Contains(m, StringComparison.OrdinalIgnoreCase))) return MetricDirection.Minimize;
        if (name.Contains("acc", StringComparison.OrdinalIgnoreCase)) return MetricDirection.Maximize;
        return null;
    }

    /// <summary>The direction to use: <paramref name="requested"/> unless it is <see cref="MetricDirection.Auto"/>, then <see cref="Infer"/>.</summary>
    /// <exception cref="ArgumentException">Auto was requested and the name says nothing about the direction.</exception>
    public static MetricDirection Resolve(string name, MetricDirection requested)
    {
        if (requested != MetricDirection.Auto) return requested;
        return Infer(name) ?? throw new ArgumentException(
            $"Cannot tell whether metric '{name}' should be minimised or maximised from its name (mse/mae/loss/err → minimise, acc → maximise); set the direction explicitly.",
            nameof(name));
    }
}
