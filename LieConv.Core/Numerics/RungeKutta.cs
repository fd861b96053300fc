using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Numerics;

/// <summary>
/// Fixed-grid fourth-order Runge–Kutta integration with the 3/8 rule, exactly as torchdiffeq's <c>method="rk4"</c>
/// (reference §4.3): one step per interval of the given time grid, and the states at the grid times returned.
/// Shared by the springs generator and by the training of dynamics models (reference §5.2, IntegratedDynamicsTrainer).
/// </summary>
/// <remarks>
/// <para>One step from t₀ to t₁ = t₀ + h:
/// k₁ = f(t₀, y), k₂ = f(t₀ + h/3, y + h k₁/3), k₃ = f(t₀ + 2h/3, y + h(k₂ − k₁/3)), k₄ = f(t₁, y + h(k₁ − k₂ + k₃)),
/// y ← y + (k₁ + 3(k₂ + k₃) + k₄)·h/8, with t₁ taken from the grid rather than computed as t₀ + h. The operations are
/// written in the order of torchdiffeq's <c>rk4_alt_step_func</c> and its fixed-grid loop, so that rounding follows
/// the original as closely as libtorch allows (not verified bit for bit against Python).</para>
/// <para>Layout: the state's first axis is the batch; the output inserts the time axis after it, so a (B, D) state
/// gives (B, T, D) and a (B, n, d) state gives (B, T, n, d). torchdiffeq puts time first ((T, B, D)); batch-first is
/// what the losses, the ML.NET rows and the original's own trainers (which permute to (B, T, D)) use.</para>
/// <para>Memory: every tensor the vector field creates during a step is disposed when the step ends, except the new
/// state. Autograd keeps what backward needs on its own, so this is safe when the result is differentiated
/// later; a vector field that keeps tensors from one call to the next must take them out of the current dispose
/// scope itself (<c>DetachFromDisposeScope</c>).</para>
/// </remarks>
public static class RungeKutta
{
    /// <summary>Vector-field evaluations per step (per interval of the time grid).</summary>
    public const int EvaluationsPerStep = 4;

    private const double OneThird = 1.0 / 3.0;
    private const double TwoThirds = 2.0 / 3.0;

    /// <summary>
    /// Integrates dy/dt = <paramref name="vectorField"/>(t, y) from <paramref name="initialState"/> at
    /// <c>times[0]</c> and returns the states at every time of <paramref name="times"/>, batch-first.
    /// </summary>
    /// <param name="vectorField">f(t, y): t is a 0-d tensor of the state's dtype and device, y has the state's shape;
    /// returns dy/dt of the same shape.</param>
    /// <param name="initialState">y(times[0]), shape (B, ...): the first axis is the batch. Returned as element
    /// [:, 0] of the result.</param>
    /// <param name="times">The time grid (T); one RK4 step is taken per interval. Converted to the state's dtype and
    /// device first (a float64 grid with a float32 state gives float32 times, so that the vector field never mixes
    /// precisions).</param>
    /// <param name="keepGraph">
    /// True (training): the result stays connected to the autograd graph, so a loss on the trajectory
    /// back-propagates through every step into the parameters the vector field uses and into
    /// <paramref name="initialState"/>. False (data generation): the combination arithmetic runs under no-grad,
    /// each step's derivatives and state are detached and the states are written into one preallocated tensor, so
    /// memory stays at the output plus one step. The vector field is then called under no-grad and must enable
    /// gradients itself if it differentiates (as <see cref="HamiltonianDynamics"/> does).
    /// </param>
    /// <returns>The states, shape (B, T, ...), with the state's dtype and device.</returns>
    /// <exception cref="ArgumentException">The state is 0-d or not floating point, or the grid is not 1-d with at
    /// least one time.</exception>
    public static Tensor Integrate(Func<Tensor, Tensor, Tensor> vectorField, Tensor initialState, Tensor times, bool keepGraph = true)
    {
        ArgumentNullException.ThrowIfNull(vectorField);
        ArgumentNullException.ThrowIfNull(initialState);
        ArgumentNullException.ThrowIfNull(times);
        if (initialState.dim() < 1)
            throw new ArgumentException("The state needs a batch axis: shape (B, ...). Use unsqueeze(0) for a single system.", nameof(initialState));
        if (!initialState.is_floating_point())
            throw new ArgumentException($"The state must be floating point; got {initialState.dtype}.", nameof(initialState));
        if (times.dim() != 1 || times.shape[0] < 1)
            throw new ArgumentException($"The time grid must be 1-d with at least one time; got shape ({string.Join(", ", times.shape)}).", nameof(times));

        long steps = times.shape[0];
        using var grid = times.to(initialState.dtype, initialState.device).detach();
        return keepGraph
            ? IntegrateWithGraph(vectorField, initialState, grid, steps)
            : IntegrateWithoutGraph(vectorField, initialState, grid, steps);
    }

    /// <summary>
    /// One RK4 (3/8 rule) step from <paramref name="t0"/> to <paramref name="t1"/>: returns the increment Δy, so that
    /// the next state is y + Δy (torchdiffeq adds it the same way).
    /// </summary>
    /// <param name="vectorField">f(t, y), as for <see cref="Integrate"/>.</param>
    /// <param name="t0">Start time, a 0-d tensor.</param>
    /// <param name="t1">End time, a 0-d tensor.</param>
    /// <param name="state">y(t0).</param>
    public static Tensor StepIncrement(Func<Tensor, Tensor, Tensor> vectorField, Tensor t0, Tensor t1, Tensor state)
    {
        ArgumentNullException.ThrowIfNull(vectorField);
        ArgumentNullException.ThrowIfNull(t0);
        ArgumentNullException.ThrowIfNull(t1);
        ArgumentNullException.ThrowIfNull(state);
        return Increment(vectorField, t0, t1, state, detach: false);
    }

    private static Tensor IntegrateWithGraph(Func<Tensor, Tensor, Tensor> f, Tensor y0, Tensor grid, long steps)
    {
        var states = new List<Tensor>((int)Math.Min(steps, int.MaxValue)) { y0 };
        try
        {
            var y = y0;
            for (long i = 0; i + 1 < steps; i++)
            {
                using var scope = NewDisposeScope();
                var next = y + Increment(f, grid[i], grid[i + 1], y, detach: false);
                y = next.MoveToOuterDisposeScope();
                states.Add(y);
            }
            return stack(states, dim: 1);
        }
        finally
        {
            // The stack holds its own copy (and autograd what backward needs); the caller's state is not ours to free.
            for (int i = 1; i < states.Count; i++) states[i].Dispose();
        }
    }

    private static Tensor IntegrateWithoutGraph(Func<Tensor, Tensor, Tensor> f, Tensor y0, Tensor grid, long steps)
    {
        using var noGrad = no_grad();
        var shape = y0.shape.ToList();
        shape.Insert(1, steps);
        var result = empty(shape.ToArray(), dtype: y0.dtype, device: y0.device);
        try
        {
            result.select(1, 0).copy_(y0);
            // The first 'previous' is only an alias of the caller's state: disposing it frees the handle, not the data.
            var previous = y0.detach();
            var y = previous;
            for (long i = 0; i + 1 < steps; i++)
            {
                using var scope = NewDisposeScope();
                var next = (y + Increment(f, grid[i], grid[i + 1], y, detach: true)).MoveToOuterDisposeScope();
                result.select(1, i + 1).copy_(next);
                previous.Dispose();
                previous = y = next;
            }
            previous.Dispose();
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    private static Tensor Increment(Func<Tensor, Tensor, Tensor> f, Tensor t0, Tensor t1, Tensor y, bool detach)
    {
        var dt = t1 - t0;
        var k1 = Evaluate(f, t0, y, detach);
        var k2 = Evaluate(f, t0 + dt * OneThird, y + dt * k1 * OneThird, detach);
        var k3 = Evaluate(f, t0 + dt * TwoThirds, y + dt * (k2 - k1 * OneThird), detach);
        var k4 = Evaluate(f, t1, y + dt * (k1 - k2 + k3), detach);
        return (k1 + 3 * (k2 + k3) + k4) * dt * 0.125;
    }

    private static Tensor Evaluate(Func<Tensor, Tensor, Tensor> f, Tensor t, Tensor y, bool detach)
    {
        var derivative = f(t, y);
        if (derivative is null || !derivative.shape.SequenceEqual(y.shape))
            throw new InvalidOperationException(
                $"The vector field must return dy/dt with the state's shape ({string.Join(", ", y.shape)}); got " +
                (derivative is null ? "null." : $"({string.Join(", ", derivative.shape)})."));
        return detach ? derivative.detach() : derivative;
    }
}
