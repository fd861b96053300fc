using LieConv.Models.Dynamics;
using LieConv.Runtime;
using LieConv.Tests.Nn;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Dynamics;

/// <summary>Shapes, symmetries and physics of the dynamics networks (reference §3.7, §3.8).</summary>
[TestFixture]
public sealed class DynamicsNetworkTests : SingleThreadedFixture
{
    private static DynamicsNetworkOptions Small(DynamicsNetworkKind kind, int particles = 4, string group = "T(2)") => new()
    {
        Network = kind,
        Particles = particles,
        Channels = kind is DynamicsNetworkKind.HLieResNet or DynamicsNetworkKind.FLieResNet ? 16 : 24,
        Layers = 2,
        Group = group,
    };

    private static DynamicsNetworkKind[] AllKinds() => Enum.GetValues<DynamicsNetworkKind>();

    [TestCaseSource(nameof(AllKinds))]
    public void EveryNetwork_GivesAFieldOfTheStateShape_AndTrainsThroughTheIntegrator(DynamicsNetworkKind kind)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        // Five particles: nothing may assume the original's six.
        using var net = Small(kind, particles: 5).Create();
        var (z, sysP) = SpringsTestData.RandomInputs(3, 5);
        var field = net.forward(tensor(0f), z, sysP);
        Assert.That(field.shape, Is.EqualTo(new long[] { 3, 20 }));
        Assert.That(net.Options.IsHamiltonian, Is.EqualTo(net is HamiltonianNetwork));

        var trajectory = IntegratedDynamics.Predict(net, z, sysP, linspace(0, 0.04, 5));
        Assert.That(trajectory.shape, Is.EqualTo(new long[] { 3, 5, 20 }));
        trajectory.square().mean().backward();
        // Not every parameter can: a potential's output bias is constant in q, and OGN's last global MLP feeds no head.
        var parameters = net.parameters().ToArray();
        int reached = parameters.Count(p => p.grad is not null && p.grad.abs().sum().item<float>() > 0);
        Assert.That(reached, Is.GreaterThan(parameters.Length / 2), "the loss must reach the parameters through the integrated field");
    }

    /// <summary>
    /// Hamiltonian networks train on their field's graph with lean operations (<see cref="SecondOrderGradients"/>):
    /// the loss's gradients by every parameter are those of libtorch's own formulas.
    /// </summary>
    [TestCase(DynamicsNetworkKind.HLieResNet)]
    [TestCase(DynamicsNetworkKind.HFC)]
    public void SecondOrderRoute_GivesTheParameterGradientsOfThePlainGraph(DynamicsNetworkKind kind)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var net = (HamiltonianNetwork)(Small(kind) with { Channels = 32 }).Create();
        net.eval();   // the same neighbourhoods and radii in both passes
        var (z, sysP) = SpringsTestData.RandomInputs(3, 4);
        var seed = randn_like(z);
        var parameters = net.parameters().ToArray();
        Tensor[] ParameterGradients(bool marked)
        {
            var state = z.detach().requires_grad_();
            Tensor energy;
            using (marked ? SecondOrderGradients.Begin() : null)
                energy = net.Hamiltonian(tensor(0f), state, sysP).sum();
            var field = autograd.grad([energy], [state], retain_graph: true, create_graph: true)[0];
            return autograd.grad([(field * seed).square().sum()], parameters, allow_unused: true)
                .Select(g => g is null || g.IsInvalid ? zeros(1) : g.flatten()).ToArray();
        }
        var plain = cat(ParameterGradients(marked: false));
        var lean = cat(ParameterGradients(marked: true));
        Assert.That(plain.abs().max().item<float>(), Is.GreaterThan(0));
        Assert.That((lean - plain).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f * plain.abs().max().item<float>()),
            "largest difference relative to the largest gradient");
    }

    [TestCase("T(2)")]
    [TestCase("Trivial(2)")]
    [TestCase("SO2")]
    public void HLieResNet_BuildsForEachGroup_AndEvaluatesUnderNoGrad(string group)
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var net = Small(DynamicsNetworkKind.HLieResNet, group: group).Create();
        net.eval();
        var (z, sysP) = SpringsTestData.RandomInputs(2, 4);
        Tensor field;
        using (no_grad()) field = net.forward(tensor(0f), z, sysP);
        Assert.That(field.shape, Is.EqualTo(new long[] { 2, 16 }));
        Assert.That(field.isfinite().all().item<bool>(), Is.True);
        Assert.That(field.requires_grad, Is.False);
        Assert.That(field.abs().max().item<float>(), Is.GreaterThan(0));
    }

    [Test]
    public void HLieResNetT2_PotentialIsInvariantUnderTranslations_EvenWithoutCentring()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        // Without the centring only the group can make H invariant; the Trivial(2) control shows that the test can fail.
        using var t2 = (HLieResNet)(Small(DynamicsNetworkKind.HLieResNet) with { Center = false }).Create();
        using var trivial = (HLieResNet)(Small(DynamicsNetworkKind.HLieResNet, group: "Trivial(2)") with { Center = false }).Create();
        using var centred = (HLieResNet)Small(DynamicsNetworkKind.HLieResNet, group: "Trivial(2)").Create();
        var (z, sysP) = SpringsTestData.RandomInputs(4, 4);
        var shift = cat([(randn(4, 1, 2) * 3).expand(4, 4, 2).reshape(4, 8), zeros(4, 8)], dim: 1);
        foreach (var net in new[] { t2, trivial, centred }) net.eval();
        using var noGrad = no_grad();
        var t = tensor(0f);

        // The change of H (T does not move) relative to how much V varies from system to system.
        double Change(HLieResNet net)
        {
            var h = net.Hamiltonian(t, z, sysP);
            var v = net.Potential(net.SplitState(z).Positions, sysP);
            return ((net.Hamiltonian(t, z + shift, sysP) - h).abs().max() / (v.max() - v.min())).item<float>();
        }

        Assert.That(Change(t2), Is.LessThan(1e-4));
        Assert.That(Change(centred), Is.LessThan(1e-4));
        Assert.That(Change(trivial), Is.GreaterThan(1e-2));
    }

    [Test]
    public void HFC_WithZeroPotential_IsTheFreeParticleField()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var net = Small(DynamicsNetworkKind.HFC).Create();
        // The last Linear gives V; zeroing it leaves H = T = Σ‖p‖²/2m.
        using (no_grad())
        {
            var last = net.named_parameters().Where(p => p.name.Contains("output")).ToArray();
            Assert.That(last, Has.Length.EqualTo(2));
            foreach (var (_, p) in last) p.zero_();
        }
        var (z, sysP) = SpringsTestData.RandomInputs(3, 4);
        var field = net.forward(tensor(0f), z, sysP);
        var p0 = z.narrow(1, 8, 8).reshape(3, 4, 2);
        var expected = cat([(p0 / sysP.select(-1, 0).unsqueeze(-1)).flatten(1), zeros(3, 8)], dim: 1);
        Assert.That((field - expected).abs().max().item<float>(), Is.LessThan(1e-6));
    }

    [TestCase(DynamicsNetworkKind.OGN)]
    [TestCase(DynamicsNetworkKind.HOGN)]
    [TestCase(DynamicsNetworkKind.VOGN)]
    [TestCase(DynamicsNetworkKind.HLieResNet)]
    public void GraphAndLieNetworks_AreEquivariantToRelabellingParticles(DynamicsNetworkKind kind)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var net = Small(kind).Create();
        net.eval();
        var (z, sysP) = SpringsTestData.RandomInputs(2, 4);
        var order = tensor(new long[] { 2, 0, 3, 1 });
        Tensor Permute(Tensor state) => cat([state.narrow(1, 0, 8).reshape(2, 4, 2).index_select(1, order).flatten(1),
            state.narrow(1, 8, 8).reshape(2, 4, 2).index_select(1, order).flatten(1)], dim: 1);
        var t = tensor(0f);
        var field = net.forward(t, z, sysP);
        var permuted = net.forward(t, Permute(z), sysP.index_select(1, order));
        Assert.That((permuted - Permute(field)).abs().max().item<float>(), Is.LessThan(1e-4 * (1 + field.abs().max().item<float>())));
    }

    [Test]
    public void FC_IsNotEquivariantToRelabelling_SoThePermutationTestCanFail()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var net = Small(DynamicsNetworkKind.FC).Create();
        var (z, sysP) = SpringsTestData.RandomInputs(2, 4);
        var order = tensor(new long[] { 2, 0, 3, 1 });
        Tensor Permute(Tensor state) => cat([state.narrow(1, 0, 8).reshape(2, 4, 2).index_select(1, order).flatten(1),
            state.narrow(1, 8, 8).reshape(2, 4, 2).index_select(1, order).flatten(1)], dim: 1);
        var t = tensor(0f);
        var field = net.forward(t, z, sysP);
        var permuted = net.forward(t, Permute(z), sysP.index_select(1, order));
        Assert.That((permuted - Permute(field)).abs().max().item<float>(), Is.GreaterThan(1e-3));
    }

    [Test]
    public void HamiltonianNetworks_ConserveTheirOwnEnergyAlongRk4Rollouts()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        using var net = (HamiltonianNetwork)Small(DynamicsNetworkKind.VOGN).Create();
        net.eval();
        var (z, sysP) = SpringsTestData.RandomInputs(3, 4);
        z = z.to(ScalarType.Float64);
        sysP = sysP.to(ScalarType.Float64);
        net.to(ScalarType.Float64);
        using var noGrad = no_grad();
        var trajectory = IntegratedDynamics.Predict(net, z, sysP, linspace(0, 0.5, 51, dtype: ScalarType.Float64));
        var t = tensor(0.0);
        var energies = stack(Enumerable.Range(0, 51).Select(i => net.Hamiltonian(t, trajectory.select(1, i), sysP)).ToArray(), dim: 1);
        var drift = (energies - energies.narrow(1, 0, 1)).abs().max() / energies.abs().max();
        Assert.That(drift.item<double>(), Is.LessThan(1e-5));
    }

    [Test]
    public void Options_RoundTripThroughJson_AndApplyThePerNetworkDefaults()
    {
        var options = new DynamicsNetworkOptions { Network = DynamicsNetworkKind.HLieResNet, Particles = 3, Group = "SO2", Layers = 2, EvaluationSeed = null };
        var back = DynamicsNetworkOptions.FromJson(options.ToJson());
        Assert.That(back, Is.EqualTo(options));
        Assert.That(back.EffectiveChannels, Is.EqualTo(384));
        Assert.That(new DynamicsNetworkOptions().EffectiveChannels, Is.EqualTo(300));
        Assert.That(new DynamicsNetworkOptions { Network = DynamicsNetworkKind.HFC }.EffectiveChannels, Is.EqualTo(150));
        Assert.That(new DynamicsNetworkOptions { Network = DynamicsNetworkKind.OGN }.EffectiveLayers, Is.EqualTo(1));
        Assert.That(DynamicsNetworkOptions.ParseNetwork("hlieresnet"), Is.EqualTo(DynamicsNetworkKind.HLieResNet));
        Assert.Throws<ArgumentException>(() => DynamicsNetworkOptions.ParseNetwork("CNN"));
        Assert.Throws<ArgumentException>(() => DynamicsNetworkOptions.ParseNetwork("2"));
        Assert.Throws<FormatException>(() => DynamicsNetworkOptions.FromJson("{\"Network\":\"HLieResNet\",\"Group\":\"SE3\"}"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicsNetworkOptions { Network = DynamicsNetworkKind.HLieResNet, Dimension = 3 }.Validate());
    }

    [Test]
    public void WrongShapes_AreRefusedWithTheExpectedShape()
    {
        using var scope = NewDisposeScope();
        using var net = Small(DynamicsNetworkKind.FC).Create();
        var (z, sysP) = SpringsTestData.RandomInputs(2, 4);
        var e = Assert.Throws<ArgumentException>(() => net.forward(tensor(0f), z.narrow(1, 0, 10), sysP))!;
        Assert.That(e.Message, Does.Contain("2·n·d = 16"));
        e = Assert.Throws<ArgumentException>(() => net.forward(tensor(0f), z, sysP.narrow(1, 0, 3)))!;
        Assert.That(e.Message, Does.Contain("(2, 4, 2)"));
    }
}
