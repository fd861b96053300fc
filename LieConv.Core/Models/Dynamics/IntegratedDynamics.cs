using LieConv.Numerics;
using LieConv.Training;
using static TorchSharp.torch;

namespace LieConv.Models.Dynamics;

/// <summary>
/// A batch of the integrated-dynamics task: initial states, system parameters, time grids and (for training and
/// evaluation) the true trajectories.
/// </summary>
/// <param name="InitialState">z₀ (B, 2nd).</param>
/// <param name="SystemParameters">sysP (B, n, sys_dim).</param>
/// <param name="Times">The time grids (B, T); see <see cref="IntegratedDynamics.Predict"/> for which one is used.</param>
/// <param name="Trajectory">The true states at the grid times (B, T, 2nd), or null when only predicting.</param>
public sealed record DynamicsBatch(Tensor InitialState, Tensor SystemParameters, Tensor Times, Tensor? Trajectory = null)
    : ISliceableBatch<DynamicsBatch>
{
    /// <inheritdoc/>
    public long Count => InitialState.shape[0];

    /// <inheritdoc/>
    /// <remarks>A slice of (B, T) time grids keeps its own rows, so it is integrated on its first system's grid.</remarks>
    public DynamicsBatch Slice(long start, long length) => new(
        InitialState.narrow(0, start, length),
        SystemParameters.narrow(0, start, length),
        Times.dim() == 2 ? Times.narrow(0, start, length) : Times,
        Trajectory?.narrow(0, start, length));
}

/// <summary>
/// The original's IntegratedDynamicsTrainer (reference §5.2): the prediction of a dynamics network is the RK4 (3/8
/// rule) integration of its vector field from z₀ over the example's time grid, and the loss (and metric 'MSE') is the
/// mean squared error over (batch, T, 2nd) against the true chunk.
/// </summary>
public static class IntegratedDynamics
{
    /// <summary>The name of the chunk MSE metric, as the original logs it.</summary>
    public const string MseMetric = "MSE";

    /// <summary>
    /// Integrates <paramref name="network"/>'s field from <paramref name="initialState"/> over a time grid.
    /// </summary>
    /// <param name="network">The vector field.</param>
    /// <param name="initialState">z₀ (B, 2nd).</param>
    /// <param name="systemParameters">sysP (B, n, sys_dim).</param>
    /// <param name="times">
    /// (T), or (B, T) of which only row 0 is used: the whole batch is integrated on the first element's grid, as the
    /// original does (reference §7.11). The spring systems are time-invariant, so only the spacings matter, and every
    /// chunk of a generated set has the same spacings; callers that mix grids of other spacings in one batch must not.
    /// </param>
    /// <returns>(B, T, 2nd); connected to the autograd graph when gradients are enabled here.</returns>
    public static Tensor Predict(DynamicsNetwork network, Tensor initialState, Tensor systemParameters, Tensor times)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(times);
        network.CheckInputs(initialState, systemParameters);
        var grid = times.dim() == 2 ? times[0] : times;
        return RungeKutta.Integrate((t, z) => network.forward(t, z, systemParameters), initialState, grid, keepGraph: is_grad_enabled());
    }

    /// <summary>The trainer's forward function: the predicted trajectory and the MSE against the batch's trajectory.</summary>
    /// <exception cref="ArgumentException">The batch has no trajectory.</exception>
    public static BatchOutput Forward(DynamicsNetwork network, DynamicsBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var target = batch.Trajectory ?? throw new ArgumentException("Training and evaluation need the true trajectory.", nameof(batch));
        var prediction = Predict(network, batch.InitialState, batch.SystemParameters, batch.Times);
        return new BatchOutput(prediction, Losses.MeanSquaredError(prediction, target));
    }

    /// <summary>The validation metrics of the task: the chunk MSE (the original's only one).</summary>
    public static IReadOnlyList<TrainingMetric<DynamicsBatch>> ValidationMetrics { get; } =
    [
        new(MseMetric, static (batch, output) => Metrics.MeanSquaredError(output.Prediction, batch.Trajectory!)),
    ];
}
