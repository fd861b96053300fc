using static TorchSharp.torch;

namespace LieConv.Training;

/// <summary>
/// Long-horizon figures of a predicted trajectory, beyond the chunk MSE the original trains on: rollout error over a
/// horizon and the drift of a conserved energy. Trajectories are (B, T, D), batch-first.
/// </summary>
public static class DynamicsMetrics
{
    /// <summary>
    /// The mean squared error over the first <paramref name="horizon"/> states (initial state included) of each
    /// trajectory, over (B, horizon, D).
    /// </summary>
    /// <exception cref="ArgumentException">The shapes differ, or the horizon is not in [1, T].</exception>
    public static Tensor RolloutMeanSquaredError(Tensor predicted, Tensor truth, long horizon)
    {
        Losses.RequireSameShape(predicted, truth);
        if (predicted.dim() < 2 || horizon < 1 || horizon > predicted.shape[1])
            throw new ArgumentException($"The horizon must lie in [1, T = {(predicted.dim() < 2 ? 0 : predicted.shape[1])}] states; got {horizon}.", nameof(horizon));
        return (predicted.narrow(1, 0, horizon) - truth.narrow(1, 0, horizon)).square().mean();
    }

    /// <summary>
    /// |H(z_t) − H(z₀)| / |H(z₀)| for every state of each trajectory, shape (B, T), under the energy
    /// <paramref name="energy"/> (the true Hamiltonian of the system, so that a model that leaks energy shows it).
    /// </summary>
    /// <param name="trajectory">States (B, T, D).</param>
    /// <param name="energy">(B, T, D) → (B, T) energies.</param>
    public static Tensor RelativeEnergyError(Tensor trajectory, Func<Tensor, Tensor> energy)
    {
        ArgumentNullException.ThrowIfNull(trajectory);
        ArgumentNullException.ThrowIfNull(energy);
        using var scope = NewDisposeScope();
        var h = energy(trajectory);
        if (h.dim() != 2 || h.shape[0] != trajectory.shape[0] || h.shape[1] != trajectory.shape[1])
            throw new ArgumentException($"The energy must map (B, T, D) to (B, T); got ({string.Join(", ", h.shape)}).", nameof(energy));
        var initial = h.narrow(1, 0, 1);
        return ((h - initial).abs() / initial.abs()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The relative energy drift at the end of the trajectories: the mean over the batch of
    /// |H(z_T) − H(z₀)| / |H(z₀)|, 0-d.
    /// </summary>
    public static Tensor RelativeEnergyDrift(Tensor trajectory, Func<Tensor, Tensor> energy)
    {
        using var scope = NewDisposeScope();
        var errors = RelativeEnergyError(trajectory, energy);
        return errors.select(1, errors.shape[1] - 1).mean().MoveToOuterDisposeScope();
    }
}
