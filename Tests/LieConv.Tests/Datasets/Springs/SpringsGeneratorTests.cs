using LieConv.Datasets.Springs;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Datasets.Springs;

/// <summary>
/// The springs Hamiltonian and generator: closed-form forces against autograd, the physics of the generated
/// trajectories (energy and momentum), the initial-condition distribution, and reproducibility.
/// </summary>
[TestFixture]
public sealed class SpringsGeneratorTests
{
    private const int SystemCount = 32;

    // Generated once: 32 systems × 500 steps take well under a second with the closed-form forces.
    private SpringSystems _systems = null!;

    [OneTimeSetUp]
    public void Generate() => _systems = SpringsGenerator.Generate(new SpringsGeneratorOptions { Systems = SystemCount, Seed = 11 });

    // ---------------------------------------------------------------- Hamiltonian

    [Test]
    public void Energy_MatchesAHandComputedSystem()
    {
        // Two particles on a line: q = (0, 1), p = (1, 2), m = (1, 2), k = (2, 3).
        // T = 1²/2 + 2²/4 = 1.5; V = ½(k₁k₂·1 + k₂k₁·1) = 6 (both ordered pairs); H = 7.5.
        using var scope = NewDisposeScope();
        var z = tensor(new[] { 0.0, 1.0, 1.0, 2.0 }, [1, 4], ScalarType.Float64);
        var h = SpringHamiltonian.Energy(z, tensor(new[] { 1.0, 2.0 }, [1, 2], ScalarType.Float64), tensor(new[] { 2.0, 3.0 }, [1, 2], ScalarType.Float64));
        Assert.That(h.shape, Is.EqualTo(new long[] { 1 }));
        Assert.That(h.item<double>(), Is.EqualTo(7.5).Within(1e-15));
    }

    [TestCase(6, 2)]
    [TestCase(4, 3)]
    public void ClosedFormForces_EqualAutogradForces(int n, int d)
    {
        using var scope = NewDisposeScope();
        var options = new SpringsGeneratorOptions { Systems = 7, Particles = n, Dimension = d, Seed = 3 };
        var (z, m, k) = SpringsGenerator.SampleInitialConditions(options);
        z = z + 0.3 * randn_like(z);   // off the sampled states too

        var closedForm = SpringHamiltonian.VectorField(z, m, k);
        var autograd = SpringHamiltonian.Dynamics(m, k).Evaluate(tensor(0.0, ScalarType.Float64), z);

        double scale = autograd.abs().max().item<double>();
        Assert.That((closedForm - autograd).abs().max().item<double>(), Is.LessThan(1e-13 * scale));
    }

    [Test]
    public void GeneratedWithAutogradForces_MatchesClosedFormUpToRounding()
    {
        using var scope = NewDisposeScope();
        var options = new SpringsGeneratorOptions { Systems = 3, Seed = 11 };
        var autograd = SpringsGenerator.Generate(options with { Forces = SpringForces.Autograd });
        var closedForm = _systems.TrajectoriesTensor().narrow(0, 0, 3);   // same seed: the first 3 of the shared set
        double difference = (autograd.TrajectoriesTensor() - closedForm).abs().max().item<double>();
        TestContext.Out.WriteLine($"max |autograd − closed form| over 500 steps: {difference:E2}");
        Assert.That(difference, Is.LessThan(1e-9));
    }

    // ---------------------------------------------------------------- physics of the generated data

    // The spring Hamiltonian is quadratic, so the dynamics are linear and split into normal modes of frequency ω. RK4
    // multiplies each mode's energy by exactly |R(iωh)|² per step, R(z) = 1 + z + z²/2 + z³/6 + z⁴/24, i.e. by about
    // 1 − (ωh)⁶/72: energy is lost (never gained) at a rate set by the fastest mode. With the original's h = 5/499,
    // systems with a light particle on stiff springs (ωh up to ≈ 0.3) lose up to a few 10⁻³ of their energy over
    // 500 steps; the tests below pin the drift to that prediction rather than to one tolerance for all systems.

    [Test]
    public void Energy_ChangesExactlyAsRk4DampsEachNormalMode()
    {
        using var scope = NewDisposeScope();
        var measured = FinalRelativeEnergyLoss(_systems).data<double>().ToArray();
        var (predicted, fastest) = PredictedRelativeEnergyLoss(_systems);
        var expected = predicted.data<double>().ToArray();
        var omegaH = fastest.data<double>().ToArray();

        for (int i = 0; i < SystemCount; i++)
        {
            TestContext.Out.WriteLine($"system {i,2}: fastest ωh = {omegaH[i]:F3}, energy lost {measured[i]:E3}, predicted {expected[i]:E3}");
            Assert.That(measured[i], Is.EqualTo(expected[i]).Within(1e-6 * expected[i] + 1e-13), $"system {i}");
        }
    }

    [Test]
    public void Energy_DriftIsBelow1e4_ForSystemsWhoseFastestModeIsResolved()
    {
        using var scope = NewDisposeScope();
        var drift = RelativeEnergyDrift(_systems).data<double>().ToArray();
        var omegaH = PredictedRelativeEnergyLoss(_systems).FastestOmegaH.data<double>().ToArray();
        var resolved = Enumerable.Range(0, SystemCount).Where(i => omegaH[i] <= 0.15).ToArray();
        var sorted = drift.Order().ToArray();
        TestContext.Out.WriteLine($"relative energy drift over {_systems.Steps} steps (h = 5/499), {SystemCount} systems: median {sorted[SystemCount / 2]:E2}, " +
                                  $"max {sorted[^1]:E2}, above 1e-4: {drift.Count(d => d >= 1e-4)}; systems with ωh ≤ 0.15: {resolved.Length}, " +
                                  $"their max drift {resolved.Max(i => drift[i]):E2}");

        Assert.That(resolved, Has.Length.GreaterThanOrEqualTo(SystemCount / 2), "most systems have no stiff mode");
        Assert.That(resolved.Select(i => drift[i]), Is.All.LessThan(1e-4));
        Assert.That(sorted[SystemCount / 2], Is.LessThan(1e-4), "median over all systems");
    }

    [Test]
    public void Energy_DriftIsBelow1e4_ForEverySystem_AtHalfTheOriginalStep()
    {
        // The same systems (same seed) on the same interval [0, 5] with 999 instead of 500 times: the drift falls by
        // 2⁵ = 32 (global energy error of RK4 on an oscillator is O(h⁵)), and every system stays below 1e-4.
        using var scope = NewDisposeScope();
        var fine = SpringsGenerator.Generate(_systems.Options with { Steps = 999, TimeStep = 5.0 / 999 });
        Assert.That(fine.Times[^1], Is.EqualTo(5.0));
        var coarseLoss = FinalRelativeEnergyLoss(_systems).data<double>().ToArray();
        var fineLoss = FinalRelativeEnergyLoss(fine).data<double>().ToArray();
        var drift = RelativeEnergyDrift(fine).data<double>().ToArray();
        TestContext.Out.WriteLine($"relative energy drift at h = 5/998: max {drift.Max():E2}");

        Assert.That(drift, Is.All.LessThan(1e-4));
        for (int i = 0; i < SystemCount; i++)
            Assert.That(coarseLoss[i] / fineLoss[i], Is.InRange(30.0, 33.0), $"system {i}");
    }

    [Test]
    public void Energy_DriftIsBelow1e4_ForEverySystem_Over500Steps_OfHalfTheOriginalTimeStep()
    {
        // 500 steps as the original, at dt = 0.005: RK4's energy error falls by 2⁵ per halving, so even the stiffest
        // systems (a light particle on stiff springs) keep their energy to 1e-4 over the whole trajectory.
        using var scope = NewDisposeScope();
        var fine = SpringsGenerator.Generate(_systems.Options with { TimeStep = 0.005 });
        Assert.That(fine.Steps, Is.EqualTo(500));
        var drift = RelativeEnergyDrift(fine).data<double>().ToArray();
        TestContext.Out.WriteLine($"relative energy drift over 500 steps of dt 0.005: max {drift.Max():E2}, median {drift.Order().ElementAt(drift.Length / 2):E2}");
        Assert.That(drift, Is.All.LessThan(1e-4));
    }

    [Test]
    public void TotalMomentum_IsZeroAtTheStart_AndStaysZero()
    {
        using var scope = NewDisposeScope();
        var z = _systems.TrajectoriesTensor();                                        // (N, T, 2nd)
        var momentum = SpringHamiltonian.TotalMomentum(z, _systems.Particles);       // (N, T, d)
        var typical = SpringHamiltonian.Split(z, _systems.Particles).Momenta.abs().mean().item<double>();
        double atStart = momentum.select(1, 0).abs().max().item<double>();
        double overall = momentum.abs().max().item<double>();
        TestContext.Out.WriteLine($"|Σp| at t = 0: {atStart:E2}; over the trajectories: {overall:E2}; typical |pᵢ|: {typical:F3}");
        Assert.That(atStart, Is.LessThan(1e-14));
        Assert.That(overall, Is.LessThan(1e-11));
    }

    [Test]
    public void Trajectories_StartAtTheSampledInitialConditions_WithTheSampledParameters()
    {
        using var scope = NewDisposeScope();
        var (z0, m, k) = SpringsGenerator.SampleInitialConditions(_systems.Options);
        Assert.That(_systems.TrajectoriesTensor().select(1, 0).eq(z0).all().item<bool>(), Is.True);
        var parameters = _systems.ParametersTensor();
        Assert.That(parameters.select(-1, 0).eq(m).all().item<bool>(), Is.True);
        Assert.That(parameters.select(-1, 1).eq(k).all().item<bool>(), Is.True);
    }

    [Test]
    public void InitialConditions_FollowTheOriginalsDistributions()
    {
        // One whole random block (5000 systems): only sampling, no integration.
        using var scope = NewDisposeScope();
        var options = new SpringsGeneratorOptions { Systems = SpringsGenerator.RandomBlockSize, Seed = 5 };
        var (z, m, k) = SpringsGenerator.SampleInitialConditions(options);
        var (q, p) = SpringHamiltonian.Split(z, options.Particles);

        Assert.That(z.shape, Is.EqualTo(new long[] { 5000, 24 }));
        Assert.That(z.dtype, Is.EqualTo(ScalarType.Float64));
        Assert.That(m.min().item<double>(), Is.GreaterThanOrEqualTo(0.1));
        Assert.That(m.max().item<double>(), Is.LessThan(3.1));
        Assert.That(m.mean().item<double>(), Is.EqualTo(1.6).Within(0.03));
        Assert.That(k.min().item<double>(), Is.GreaterThanOrEqualTo(0.0));
        Assert.That(k.max().item<double>(), Is.LessThan(5.0));
        Assert.That(k.mean().item<double>(), Is.EqualTo(2.5).Within(0.05));
        Assert.That(q.std().item<double>(), Is.EqualTo(0.4).Within(0.01));
        // Centring over n = 6 particles leaves each momentum with variance 0.36·(1 − 1/6).
        Assert.That(p.std().item<double>(), Is.EqualTo(0.6 * Math.Sqrt(5.0 / 6.0)).Within(0.01));
        Assert.That(p.sum(dim: 1).abs().max().item<double>(), Is.LessThan(1e-14), "every system has zero total momentum");
    }

    [Test]
    public void TimeGrid_IsTheOriginalsLinspace()
    {
        var times = _systems.Times.ToArray();
        Assert.That(times, Has.Length.EqualTo(500));
        Assert.That(times[0], Is.Zero);
        Assert.That(times[^1], Is.EqualTo(5.0));
        Assert.That(times[1], Is.EqualTo(5.0 / 499).Within(1e-15));
        Assert.That(times.Zip(times.Skip(1), (a, b) => b - a), Is.All.EqualTo(5.0 / 499).Within(1e-12));
    }

    // ---------------------------------------------------------------- reproducibility

    [Test]
    public void SameSeed_GivesIdenticalData_AndAnotherSeedDifferentData()
    {
        var options = new SpringsGeneratorOptions { Systems = 4, Steps = 50, Seed = 21 };
        var first = SpringsGenerator.Generate(options);
        var second = SpringsGenerator.Generate(options);
        var other = SpringsGenerator.Generate(options with { Seed = 22 });

        Assert.That(second.Trajectories.SequenceEqual(first.Trajectories), Is.True);
        Assert.That(second.Parameters.SequenceEqual(first.Parameters), Is.True);
        Assert.That(other.Parameters.SequenceEqual(first.Parameters), Is.False);
        Assert.That(other.Trajectories.SequenceEqual(first.Trajectories), Is.False);
    }

    [Test]
    public void IntegrationBatchSize_DoesNotChangeTheData()
    {
        var options = new SpringsGeneratorOptions { Systems = 10, Steps = 100, Seed = 4 };
        var inThrees = SpringsGenerator.Generate(options with { IntegrationBatchSize = 3 });
        var allAtOnce = SpringsGenerator.Generate(options with { IntegrationBatchSize = 10 });

        Assert.That(inThrees.Trajectories.SequenceEqual(allAtOnce.Trajectories), Is.True);
        Assert.That(inThrees.Parameters.SequenceEqual(allAtOnce.Parameters), Is.True);
    }

    [Test]
    public void SmallerSet_IsAPrefixOfALargerOne()
    {
        var options = new SpringsGeneratorOptions { Systems = 10, Steps = 60, Seed = 8, IntegrationBatchSize = 4 };
        var large = SpringsGenerator.Generate(options);
        var small = SpringsGenerator.Generate(options with { Systems = 7 });

        Assert.That(small.Trajectories.SequenceEqual(large.Trajectories[..small.Trajectories.Length]), Is.True);
        Assert.That(small.Parameters.SequenceEqual(large.Parameters[..small.Parameters.Length]), Is.True);
    }

    [Test]
    public void RandomBlocks_AreDrawnFromDifferentStreams()
    {
        // Systems 5000.. come from block 1's generator: not a repeat of block 0, and block 0 unchanged by block 1.
        using var scope = NewDisposeScope();
        var options = new SpringsGeneratorOptions { Systems = SpringsGenerator.RandomBlockSize + 3, Seed = 2 };
        var (z, m, _) = SpringsGenerator.SampleInitialConditions(options);
        var (z0, _, _) = SpringsGenerator.SampleInitialConditions(options with { Systems = 3 });

        Assert.That(z.narrow(0, 0, 3).eq(z0).all().item<bool>(), Is.True);
        Assert.That(z.narrow(0, SpringsGenerator.RandomBlockSize, 3).eq(z0).all().item<bool>(), Is.False);
        Assert.That(m.narrow(0, SpringsGenerator.RandomBlockSize, 3).eq(m.narrow(0, 0, 3)).all().item<bool>(), Is.False);
    }

    [Test]
    public void ParticlesAndDimension_AreConfigurable()
    {
        using var scope = NewDisposeScope();
        var systems = SpringsGenerator.Generate(new SpringsGeneratorOptions { Systems = 2, Particles = 3, Dimension = 3, Steps = 40, Seed = 1 });
        Assert.That(systems.StateSize, Is.EqualTo(18));
        Assert.That(systems.TrajectoriesTensor().shape, Is.EqualTo(new long[] { 2, 40, 18 }));
        Assert.That(systems.ParametersTensor().shape, Is.EqualTo(new long[] { 2, 3, 2 }));
        Assert.That(RelativeEnergyDrift(systems).max().item<double>(), Is.LessThan(1e-4));
    }

    [Test]
    public void InvalidOptions_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SpringsGenerator.Generate(new SpringsGeneratorOptions { Systems = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpringsGenerator.Generate(new SpringsGeneratorOptions { Steps = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpringsGenerator.Generate(new SpringsGeneratorOptions { TimeStep = double.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpringsGenerator.Generate(new SpringsGeneratorOptions { Systems = 1_000_000 }));
    }

    /// <summary>max over t of |H(t) − H(0)| / |H(0)| per system, shape (N).</summary>
    internal static Tensor RelativeEnergyDrift(SpringSystems systems)
    {
        using var scope = NewDisposeScope();
        var energy = Energies(systems);
        var start = energy.select(1, 0).unsqueeze(1);
        return ((energy - start).abs() / start.abs()).amax([1]).MoveToOuterDisposeScope();
    }

    /// <summary>(H(0) − H(T)) / H(0) per system, shape (N).</summary>
    private static Tensor FinalRelativeEnergyLoss(SpringSystems systems)
    {
        using var scope = NewDisposeScope();
        var energy = Energies(systems);
        return ((energy.select(1, 0) - energy.select(1, -1)) / energy.select(1, 0)).MoveToOuterDisposeScope();
    }

    /// <summary>H at every state, shape (N, T).</summary>
    private static Tensor Energies(SpringSystems systems)
    {
        var parameters = systems.ParametersTensor().unsqueeze(1);                      // (N, 1, n, 2): broadcast over time
        return SpringHamiltonian.Energy(systems.TrajectoriesTensor(), parameters.select(-1, 0), parameters.select(-1, 1));
    }

    /// <summary>
    /// The relative energy RK4 removes over the whole trajectory, from the normal modes: in mass-weighted coordinates
    /// x = √m q, v = p/√m the force matrix is A = M^(-1/2) ∇²V M^(-1/2) with ∇²V = 2(K·diag(k) − k kᵀ) per space axis;
    /// mode j (eigenvalue ω_j²) holds E_j = ½(P_j² + ω_j² Q_j²) and keeps E_j·|R(iω_j h)|^(2·steps).
    /// Also returns the fastest mode's ωh per system.
    /// </summary>
    private static (Tensor Loss, Tensor FastestOmegaH) PredictedRelativeEnergyLoss(SpringSystems systems)
    {
        using var scope = NewDisposeScope();
        var parameters = systems.ParametersTensor();
        var m = parameters.select(-1, 0);
        var k = parameters.select(-1, 1);
        var hessian = 2 * (diag_embed(k * k.sum(dim: -1, keepdim: true)) - k.unsqueeze(-1) * k.unsqueeze(-2));
        var scale = m.rsqrt();
        var (eigenvalues, modes) = linalg.eigh(scale.unsqueeze(-1) * hessian * scale.unsqueeze(-2));

        var (q, p) = SpringHamiltonian.Split(systems.TrajectoriesTensor().select(1, 0), systems.Particles);    // (N, n, d)
        var modalQ = modes.transpose(-1, -2).matmul(m.sqrt().unsqueeze(-1) * q);
        var modalP = modes.transpose(-1, -2).matmul(p * scale.unsqueeze(-1));
        var omegaSquared = eigenvalues.clamp_min(0);
        var modeEnergy = 0.5 * (modalP.square() + omegaSquared.unsqueeze(-1) * modalQ.square()).sum(dim: -1);   // (N, n)

        double h = systems.Times[1] - systems.Times[0];
        var y = omegaSquared.sqrt() * h;
        var y2 = y.square();
        var amplification = (1 - y2 / 2 + y2.square() / 24).square() + (y - y * y2 / 6).square();             // |R(iy)|²
        var kept = (modeEnergy * amplification.pow(systems.Steps - 1)).sum(dim: -1);
        var total = modeEnergy.sum(dim: -1);
        return ((1 - kept / total).MoveToOuterDisposeScope(), y.amax([-1]).MoveToOuterDisposeScope());
    }
}
