using LieConv.Numerics;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Numerics;

/// <summary>The fixed-grid RK4 (3/8 rule) integrator: the step formula, its order, the layout, and autograd through it.</summary>
[TestFixture]
public sealed class RungeKuttaTests
{
    // y' = t + y², y(0) = 1/2, one step of h = 1/4. The value is the 3/8 rule evaluated in exact rational arithmetic;
    // the classic RK4 gives 0.6058350478… here, so the test tells the two rules apart.
    private const double ThreeEighthsStep = 0.6058253002244935;

    [Test]
    public void OneStep_MatchesTheThreeEighthsRuleComputedByHand()
    {
        using var scope = NewDisposeScope();
        var y0 = tensor(new[] { 0.5 }, [1, 1], ScalarType.Float64);
        var times = tensor(new[] { 0.0, 0.25 }, ScalarType.Float64);
        var states = RungeKutta.Integrate((t, y) => t + y.square(), y0, times);

        Assert.That(states.shape, Is.EqualTo(new long[] { 1, 2, 1 }));
        Assert.That(states[0, 0, 0].item<double>(), Is.EqualTo(0.5));
        Assert.That(states[0, 1, 0].item<double>(), Is.EqualTo(ThreeEighthsStep).Within(1e-15));
    }

    [Test]
    public void OneStep_EvaluatesTheFieldAtTheFourStageTimes()
    {
        using var scope = NewDisposeScope();
        var seen = new List<double>();
        var times = tensor(new[] { 1.0, 1.6, 2.5 }, ScalarType.Float64);
        RungeKutta.Integrate((t, y) => { seen.Add(t.item<double>()); return zeros_like(y); }, zeros(2, 3, dtype: ScalarType.Float64), times);

        double[] expected = [1.0, 1.2, 1.4, 1.6, 1.6, 1.9, 2.2, 2.5];
        Assert.That(seen, Has.Count.EqualTo(2 * RungeKutta.EvaluationsPerStep));
        Assert.That(seen, Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void LinearOde_OneStepIsTheFourthOrderTaylorPolynomial()
    {
        // For y' = Ay every 4-stage 4th-order rule gives y₁ = (I + hA + (hA)²/2 + (hA)³/6 + (hA)⁴/24) y₀ exactly.
        using var scope = NewDisposeScope();
        var a = tensor(new[] { -0.3, 1.2, -0.9, 0.1 }, [2, 2], ScalarType.Float64);
        var y0 = tensor(new[] { 1.0, -2.0, 0.5, 0.25 }, [2, 2], ScalarType.Float64);   // two systems, batch first
        double h = 0.37;
        var states = RungeKutta.Integrate((_, y) => y.matmul(a.T), y0, tensor(new[] { 0.0, h }, ScalarType.Float64));

        var ha = h * a;
        var ha2 = ha.matmul(ha);
        var ha3 = ha2.matmul(ha);
        var propagator = eye(2, dtype: ScalarType.Float64) + ha + ha2 / 2 + ha3 / 6 + ha3.matmul(ha) / 24;
        var expected = y0.matmul(propagator.T);
        Assert.That((states.select(1, 1) - expected).abs().max().item<double>(), Is.LessThan(1e-15));
    }

    [Test]
    public void LinearOde_ErrorShrinksSixteenfoldWhenTheStepHalves()
    {
        // Harmonic oscillator y = (x, v), x' = v, v' = −x from (1, 0): exactly (cos t, −sin t).
        using var scope = NewDisposeScope();
        var y0 = tensor(new[] { 1.0, 0.0 }, [1, 2], ScalarType.Float64);
        Func<Tensor, Tensor, Tensor> field = (_, y) => stack([y.select(1, 1), -y.select(1, 0)], dim: 1);
        double end = 2.0;
        var errors = new List<double>();
        foreach (int steps in new[] { 10, 20, 40, 80 })
        {
            var states = RungeKutta.Integrate(field, y0, linspace(0, end, steps + 1, ScalarType.Float64));
            var last = states[0, -1];
            double error = Math.Sqrt(Math.Pow(last[0].item<double>() - Math.Cos(end), 2) + Math.Pow(last[1].item<double>() + Math.Sin(end), 2));
            errors.Add(error);
        }

        for (int i = 1; i < errors.Count; i++)
        {
            double ratio = errors[i - 1] / errors[i];
            Assert.That(ratio, Is.InRange(15.0, 17.0), $"error ratio {i}: {string.Join(", ", errors)}");
        }
    }

    [Test]
    public void Layout_IsBatchThenTimeThenTheStateShape_AndStartsWithTheInitialState()
    {
        using var scope = NewDisposeScope();
        var y0 = randn(3, 4, 2, dtype: ScalarType.Float64);
        var states = RungeKutta.Integrate((_, y) => -y, y0, linspace(0, 1, 6, ScalarType.Float64));

        Assert.That(states.shape, Is.EqualTo(new long[] { 3, 6, 4, 2 }));
        Assert.That(states.select(1, 0).eq(y0).all().item<bool>(), Is.True);
        // Each system decays on its own: every step multiplies by RK4's factor 1 − h + h²/2 − h³/6 + h⁴/24 for y' = −y.
        double h = 0.2, factor = 1 - h + h * h / 2 - h * h * h / 6 + h * h * h * h / 24;
        for (int i = 1; i < 6; i++)
            Assert.That((states.select(1, i) - y0 * Math.Pow(factor, i)).abs().max().item<double>(), Is.LessThan(1e-14), $"time {i}");
    }

    [Test]
    public void Times_AreConvertedToTheStatePrecision()
    {
        using var scope = NewDisposeScope();
        ScalarType? seen = null;
        var states = RungeKutta.Integrate((t, y) => { seen = t.dtype; return t * y; }, ones(2, 3), linspace(0, 1, 3, ScalarType.Float64));
        Assert.That(seen, Is.EqualTo(ScalarType.Float32));
        Assert.That(states.dtype, Is.EqualTo(ScalarType.Float32));
    }

    [Test]
    public void Gradients_FlowThroughTheIntegration_ToFieldParametersAndInitialState()
    {
        // y' = −a·y² + sin(t): the gradient of Σ trajectory with respect to a and y0 must match central finite
        // differences of the very same discrete integration.
        using var scope = NewDisposeScope();
        var times = linspace(0, 2, 9, ScalarType.Float64);
        double a0 = 0.7;
        var y0Values = new[] { 0.4, -0.2, 1.1 };

        var a = tensor(a0, ScalarType.Float64).requires_grad_();
        var y0 = tensor(y0Values, [3, 1], ScalarType.Float64).requires_grad_();
        var loss = RungeKutta.Integrate((t, y) => -a * y.square() + t.sin(), y0, times).sum();
        loss.backward();

        double Loss(double aValue, double[] start)
        {
            using var inner = NewDisposeScope();
            using var noGrad = no_grad();
            var aT = tensor(aValue, ScalarType.Float64);
            return RungeKutta.Integrate((t, y) => -aT * y.square() + t.sin(), tensor(start, [3, 1], ScalarType.Float64), times).sum().item<double>();
        }

        const double eps = 1e-6;
        double numericA = (Loss(a0 + eps, y0Values) - Loss(a0 - eps, y0Values)) / (2 * eps);
        Assert.That(a.grad!.item<double>(), Is.EqualTo(numericA).Within(1e-7).Percent);
        for (int i = 0; i < y0Values.Length; i++)
        {
            var up = (double[])y0Values.Clone();
            var down = (double[])y0Values.Clone();
            up[i] += eps;
            down[i] -= eps;
            double numeric = (Loss(a0, up) - Loss(a0, down)) / (2 * eps);
            Assert.That(y0.grad![i, 0].item<double>(), Is.EqualTo(numeric).Within(1e-7).Percent, $"y0[{i}]");
        }
    }

    [Test]
    public void WithoutGraph_GivesTheSameStates_AndNoGraph()
    {
        using var scope = NewDisposeScope();
        var a = tensor(0.3, ScalarType.Float64).requires_grad_();
        var y0 = randn(4, 3, dtype: ScalarType.Float64);
        var times = linspace(0, 1, 11, ScalarType.Float64);
        Func<Tensor, Tensor, Tensor> field = (t, y) => -a * y.pow(3) + t;

        var withGraph = RungeKutta.Integrate(field, y0, times);
        var withoutGraph = RungeKutta.Integrate(field, y0, times, keepGraph: false);

        Assert.That(withGraph.requires_grad, Is.True);
        Assert.That(withoutGraph.requires_grad, Is.False);
        Assert.That(withoutGraph.eq(withGraph.detach()).all().item<bool>(), Is.True);
    }

    [Test]
    public void WithoutGraph_LetsAFieldThatDifferentiatesRunUnderNoGrad()
    {
        using var scope = NewDisposeScope();
        var dynamics = new HamiltonianDynamics((_, z) => 0.5 * z.square().sum(dim: -1));
        using var noGrad = no_grad();
        var states = RungeKutta.Integrate(dynamics.Evaluate, tensor(new[] { 1.0, 0.0 }, [1, 2], ScalarType.Float64),
            linspace(0, Math.PI / 2, 101, ScalarType.Float64), keepGraph: false);
        // Quarter period of the oscillator: (q, p) goes from (1, 0) to (0, −1).
        Assert.That(states[0, -1, 0].item<double>(), Is.EqualTo(0).Within(1e-8));
        Assert.That(states[0, -1, 1].item<double>(), Is.EqualTo(-1).Within(1e-8));
        Assert.That(dynamics.Evaluations, Is.EqualTo(100 * RungeKutta.EvaluationsPerStep));
    }

    [Test]
    public void SingleTime_ReturnsTheInitialStateOnly()
    {
        using var scope = NewDisposeScope();
        var y0 = randn(2, 3);
        var states = RungeKutta.Integrate((_, _) => throw new AssertionException("no step should be taken"), y0, zeros(1));
        Assert.That(states.shape, Is.EqualTo(new long[] { 2, 1, 3 }));
        Assert.That(states.select(1, 0).eq(y0).all().item<bool>(), Is.True);
    }

    [Test]
    public void InvalidInputs_AreRejectedWithReasons()
    {
        using var scope = NewDisposeScope();
        Func<Tensor, Tensor, Tensor> identity = (_, y) => y;
        Assert.That(() => RungeKutta.Integrate(identity, tensor(1.0), linspace(0, 1, 3)),
            Throws.ArgumentException.With.Message.Contains("batch axis"));
        Assert.That(() => RungeKutta.Integrate(identity, ones(2, 2), zeros(2, 2)),
            Throws.ArgumentException.With.Message.Contains("1-d"));
        Assert.That(() => RungeKutta.Integrate(identity, ones(2, 2, dtype: ScalarType.Int64), linspace(0, 1, 3)),
            Throws.ArgumentException.With.Message.Contains("floating point"));
        Assert.That(() => RungeKutta.Integrate((_, y) => y.sum(dim: -1), ones(2, 2), linspace(0, 1, 3)),
            Throws.InvalidOperationException.With.Message.Contains("state's shape"));
    }
}
