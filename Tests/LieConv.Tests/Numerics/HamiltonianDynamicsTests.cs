using LieConv.Numerics;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Numerics;

/// <summary>The Hamiltonian vector field by autograd: the symplectic form, no-grad callers, and the second-order graph.</summary>
[TestFixture]
public sealed class HamiltonianDynamicsTests
{
    private static Tensor HarmonicEnergy(Tensor z) => 0.5 * z.square().sum(dim: -1);   // ½‖q‖² + ½‖p‖²

    [Test]
    public void HarmonicOscillator_GivesQDotEqualsPAndPDotEqualsMinusQ()
    {
        using var scope = NewDisposeScope();
        var z = randn(5, 8, dtype: ScalarType.Float64);
        var field = new HamiltonianDynamics((_, state) => HarmonicEnergy(state)).Evaluate(tensor(0.0), z);

        var expected = cat([z.narrow(1, 4, 4), -z.narrow(1, 0, 4)], dim: 1);
        Assert.That((field - expected).abs().max().item<double>(), Is.LessThan(1e-15));
        Assert.That(field.requires_grad, Is.False);
    }

    [Test]
    public void Field_IsComputedEvenUnderNoGrad()
    {
        using var scope = NewDisposeScope();
        var z = randn(3, 4, dtype: ScalarType.Float64);
        Tensor field;
        using (no_grad())
        {
            field = new HamiltonianDynamics((_, state) => HarmonicEnergy(state)).Evaluate(tensor(0.0), z);
        }
        Assert.That((field - cat([z.narrow(1, 2, 2), -z.narrow(1, 0, 2)], dim: 1)).abs().max().item<double>(), Is.LessThan(1e-15));
    }

    [Test]
    public void Batch_SystemsAreIndependent()
    {
        // ΣH over the batch must not mix systems: each row's field equals the field computed for that row alone.
        using var scope = NewDisposeScope();
        var z = randn(4, 6, dtype: ScalarType.Float64);
        var dynamics = new HamiltonianDynamics((_, s) => s.narrow(-1, 0, 3).pow(4).sum(dim: -1) + s.narrow(-1, 3, 3).square().sum(dim: -1) * s.narrow(-1, 0, 1).squeeze(-1).cos());
        var together = dynamics.Evaluate(tensor(0.0), z);
        for (int i = 0; i < 4; i++)
        {
            var alone = dynamics.Evaluate(tensor(0.0), z.narrow(0, i, 1));
            Assert.That((together.narrow(0, i, 1) - alone).abs().max().item<double>(), Is.LessThan(1e-14), $"system {i}");
        }
    }

    [Test]
    public void CreateGraph_MakesTheFieldDifferentiableInTheHamiltoniansParameters()
    {
        // H = ½ω²‖q‖² + ½‖p‖²: field = (p, −ω²q), so d(Σ field)/dω = −2ω Σq.
        using var scope = NewDisposeScope();
        var omega = tensor(1.3, ScalarType.Float64).requires_grad_();
        var z = randn(2, 6, dtype: ScalarType.Float64);
        var dynamics = new HamiltonianDynamics(
            (_, s) => 0.5 * omega.square() * s.narrow(-1, 0, 3).square().sum(dim: -1) + 0.5 * s.narrow(-1, 3, 3).square().sum(dim: -1),
            createGraph: true);

        dynamics.Evaluate(tensor(0.0), z).sum().backward();

        double expected = -2 * 1.3 * z.narrow(1, 0, 3).sum().item<double>();
        Assert.That(omega.grad!.item<double>(), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void CreateGraph_KeepsTheStatesOwnHistory()
    {
        // z = w·z0 and H = ½‖p‖² + ¼Σq⁴: field = (p, −q³), so d(Σ field)/dw = Σp0 − 3w²Σq0³. Detaching z before
        // differentiating H would lose this dependence.
        using var scope = NewDisposeScope();
        var w = tensor(0.8, ScalarType.Float64).requires_grad_();
        var z0 = randn(3, 4, dtype: ScalarType.Float64);
        var dynamics = new HamiltonianDynamics(
            (_, s) => 0.5 * s.narrow(-1, 2, 2).square().sum(dim: -1) + 0.25 * s.narrow(-1, 0, 2).pow(4).sum(dim: -1),
            createGraph: true);

        dynamics.Evaluate(tensor(0.0), w * z0).sum().backward();

        double expected = z0.narrow(1, 2, 2).sum().item<double>() - 3 * 0.8 * 0.8 * z0.narrow(1, 0, 2).pow(3).sum().item<double>();
        Assert.That(w.grad!.item<double>(), Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void WithoutCreateGraph_TheFieldIsAPlainTensor()
    {
        using var scope = NewDisposeScope();
        var omega = tensor(1.3, ScalarType.Float64).requires_grad_();
        var field = new HamiltonianDynamics((_, s) => omega * s.square().sum(dim: -1)).Evaluate(tensor(0.0), randn(2, 4, dtype: ScalarType.Float64));
        Assert.That(field.requires_grad, Is.False);
    }

    [Test]
    public void Evaluations_AreCounted_AndReset()
    {
        using var scope = NewDisposeScope();
        var dynamics = new HamiltonianDynamics((_, s) => HarmonicEnergy(s));
        for (int i = 0; i < 3; i++) dynamics.Evaluate(tensor(0.0), ones(1, 2, dtype: ScalarType.Float64));
        Assert.That(dynamics.Evaluations, Is.EqualTo(3));
        dynamics.ResetEvaluations();
        Assert.That(dynamics.Evaluations, Is.Zero);
    }

    [Test]
    public void OddStateLength_IsRejected()
    {
        using var scope = NewDisposeScope();
        var dynamics = new HamiltonianDynamics((_, s) => HarmonicEnergy(s));
        Assert.That(() => dynamics.Evaluate(tensor(0.0), ones(2, 5)), Throws.ArgumentException.With.Message.Contains("even length"));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void TheEnergy_IsMarkedForSecondOrderGradients_ExactlyWhenTheFieldKeepsItsGraph(bool createGraph)
    {
        using var scope = NewDisposeScope();
        bool? marked = null;
        var dynamics = new HamiltonianDynamics((_, s) => { marked = SecondOrderGradients.Expected; return HarmonicEnergy(s); }, createGraph);
        dynamics.Evaluate(tensor(0.0), ones(1, 2, dtype: ScalarType.Float64));
        Assert.That(marked, Is.EqualTo(createGraph), "inside the energy");
        Assert.That(SecondOrderGradients.Expected, Is.False, "after the evaluation");
    }

    /// <summary>
    /// A failure inside the field's differentiation (here an input that an operation saved, changed in place) must
    /// reach the caller as an exception with its cause: TorchSharp's autograd.grad would end the process instead.
    /// </summary>
    [TestCase(true)]
    [TestCase(false)]
    public void AFailingBackwardInsideTheEnergy_ReachesTheCallerAsAnException(bool createGraph)
    {
        using var scope = NewDisposeScope();
        var rows = tensor(new long[] { 0, 1, 1, 0 }).view(2, 2);
        var kernel = randn(2, 2, LieConv.Nn.WeightNet.OutputWidth, dtype: ScalarType.Float64);
        var weight = randn(3, 2 * LieConv.Nn.WeightNet.OutputWidth, dtype: ScalarType.Float64);
        var bias = zeros(3, dtype: ScalarType.Float64);
        var dynamics = new HamiltonianDynamics((_, state) =>
        {
            var features = state.view(2, 2) * 1;
            var output = LieConv.Nn.PointConvSum.Compute(features, rows, kernel, weight, bias);
            features.add_(1);   // changed after the operation saved it: its backward cannot run
            return output.square().sum();
        }, createGraph);
        var failure = Assert.Throws<InvalidOperationException>(() => dynamics.Evaluate(tensor(0.0), randn(1, 4, dtype: ScalarType.Float64)));
        Assert.That(failure!.InnerException!.Message, Does.Contain("modified by an inplace operation"));
    }

    [Test]
    public void AnEnergyIndependentOfTheState_HasAZeroField()
    {
        using var scope = NewDisposeScope();
        var field = new HamiltonianDynamics((_, state) => state.sum(-1) * 0 + 3, createGraph: true).Evaluate(tensor(0.0), randn(2, 4, dtype: ScalarType.Float64));
        Assert.That(field.abs().max().item<double>(), Is.Zero);
    }
}
