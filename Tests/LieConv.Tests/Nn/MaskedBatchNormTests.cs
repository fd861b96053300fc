using LieConv.Nn;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;

namespace LieConv.Tests.Nn;

[TestFixture]
public class MaskedBatchNormTests : SingleThreadedFixture
{
    // x (2, 3, 3): channel 2 is constant on the valid entries, so its variance 0 must be clamped to 1e-5.
    // Masked entries hold 1000 so that any leak into the statistics shows.
    private static readonly double[,,] X =
    {
        { { 0.5, -1.0, 4.0 }, { 1000, 1000, 1000 }, { -0.7, 2.0, 4.0 } },
        { { 1.9, 0.3, 4.0 }, { 0.1, -0.4, 4.0 }, { 1000, 1000, 1000 } },
    };
    private static readonly bool[,] Mask = { { true, false, true }, { true, true, false } };
    private static readonly double[] Gamma = { 1.5, -0.5, 2.0 };
    private static readonly double[] Beta = { 0.1, 0.2, -0.3 };

    // float64 throughout: with the clamped variance the output of channel 2 is a difference of two terms of size
    // |mean·γ/σ| ≈ 2500, which float32 resolves only to ~1e-4; the formula is what is checked here.
    private static Tensor Input() => tensor(X.Cast<double>().ToArray(), new long[] { 2, 3, 3 });
    private static Tensor MaskTensor() => tensor(Mask.Cast<bool>().ToArray(), new long[] { 2, 3 });

    private static MaskedBatchNorm Norm()
    {
        var norm = new MaskedBatchNorm(3);
        norm.to(ScalarType.Float64);
        using var noGrad = no_grad();
        foreach (var (name, p) in norm.named_parameters())
            p.copy_(tensor(name == "weight" ? Gamma : Beta));
        return norm;
    }

    private static Tensor Buffer(nn.Module module, string name) => module.named_buffers().Single(b => b.name == name).buffer;

    /// <summary>The valid entries of channel <paramref name="c"/>.</summary>
    private static double[] ValidEntries(int c)
    {
        var list = new List<double>();
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 3; i++)
                if (Mask[b, i]) list.Add(X[b, i, c]);
        return list.ToArray();
    }

    /// <summary>Hand-computed normalisation of the valid entries with the given per-channel mean and variance.</summary>
    private static Tensor Expected(double[] mean, double[] variance)
    {
        var y = new double[2 * 3 * 3];
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 3; i++)
                for (int c = 0; c < 3; c++)
                {
                    double std = Math.Sqrt(Math.Max(variance[c], 1e-5));
                    y[(b * 3 + i) * 3 + c] = (X[b, i, c] - mean[c]) / std * Gamma[c] + Beta[c];
                }
        return tensor(y, new long[] { 2, 3, 3 });
    }

    private static Tensor ValidRows(Tensor t) => t.masked_select(MaskTensor().unsqueeze(-1)).reshape(-1, 3);

    [Test]
    public void Training_UsesMaskedBiasedStatistics_AndTheRunningStatisticsGetTheUnbiasedVariance()
    {
        var norm = Norm();
        norm.train();
        var y = norm.forward(Input(), MaskTensor());

        double[] mean = new double[3], biased = new double[3], unbiased = new double[3];
        for (int c = 0; c < 3; c++)
        {
            var v = ValidEntries(c);
            mean[c] = v.Average();
            double s = v.Sum(e => (e - mean[c]) * (e - mean[c]));
            biased[c] = s / v.Length;
            unbiased[c] = s / (v.Length - 1);
        }
        Assert.That(biased[2], Is.EqualTo(0), "channel 2 is constant: its std must come from the 1e-5 clamp");
        Assert.That(RelativeError(ValidRows(y), ValidRows(Expected(mean, biased))), Is.LessThan(1e-10));

        // running ← 0.9·running + 0.1·batch statistic, from mean 0 and variance 1.
        var expectedMean = tensor(mean.Select(m => 0.1 * m).ToArray());
        var expectedVar = tensor(unbiased.Select(v => 0.9 + 0.1 * v).ToArray());
        Assert.That(RelativeError(Buffer(norm, "running_mean"), expectedMean), Is.LessThan(1e-12));
        Assert.That(RelativeError(Buffer(norm, "running_var"), expectedVar), Is.LessThan(1e-12));

        // A second step accumulates.
        norm.forward(Input(), MaskTensor());
        Assert.That(RelativeError(Buffer(norm, "running_mean"), tensor(mean.Select(m => 0.19 * m).ToArray())), Is.LessThan(1e-12));
        Assert.That(RelativeError(Buffer(norm, "running_var"), tensor(unbiased.Select(v => 0.81 + 0.19 * v).ToArray())), Is.LessThan(1e-12));
    }

    /// <summary>
    /// The original's formula by plain autograd: biased variance clamped at 1e-5, over every entry of x (N, C).
    /// </summary>
    private static Tensor ReferenceTraining(Tensor x, Tensor gamma, Tensor beta)
    {
        var mean = x.mean(new long[] { 0 });
        var variance = (x - mean).square().mean(new long[] { 0 });
        return (x - mean) / variance.clamp_min(1e-5).sqrt() * gamma + beta;
    }

    // Where every entry counts, training takes libtorch's fused batch norm; these pin it to the formula above, from
    // ordinary channels (variance far above ε) to ones below ε, which must be clamped, with the same gradients.
    // float32: the formula's variance is E[x²] − mean², as the original's, which loses about 1e-7·mean²/var relative
    // (channel 2: mean 10, variance 0.04) — the fused route's is more accurate.
    [TestCase(ScalarType.Float32, 1.0, 1e-3)]
    [TestCase(ScalarType.Float64, 1.0, 1e-10)]
    [TestCase(ScalarType.Float64, 2e-3, 1e-10)]    // channel 3: variance ≈ 4e-6 < ε
    [TestCase(ScalarType.Float64, 0.0, 1e-10)]     // channel 3 constant
    public void Training_WithEveryEntryValid_GivesTheClampedFormula_ItsGradients_AndRunningStatistics(ScalarType dtype, double spreadOfLastChannel, double tolerance)
    {
        var generator = new Generator(7);
        var data = randn(new long[] { 4, 40, 4 }, generator: generator, dtype: ScalarType.Float64) * tensor(new[] { 1.0, 3.0, 0.2, spreadOfLastChannel })
            + tensor(new[] { 0.5, -2.0, 10.0, 4.0 });
        var upstream = randn(new long[] { 4, 40, 4 }, generator: generator, dtype: ScalarType.Float64).to(dtype);
        var maskKinds = new[] { ones(4, 40, dtype: ScalarType.Bool), ones(4, 40, dtype: dtype) };
        long threshold = MaskedBatchNorm.FusedMinimumEntries;
        // Every entry of these 640 may take the fused route (the default keeps it to large tensors); the formula
        // route, which the threshold's default gives them, must agree too.
        foreach (var (mask, fusedFrom) in maskKinds.SelectMany(m => new[] { (m, 0L), (m, threshold) }))
        {
            MaskedBatchNorm.FusedMinimumEntries = fusedFrom;
            var norm = new MaskedBatchNorm(4);
            norm.to(dtype);
            using (no_grad())
                foreach (var (name, p) in norm.named_parameters())
                    p.copy_(tensor(name == "weight" ? new[] { 1.5, -0.5, 2.0, 0.7 } : new[] { 0.1, 0.2, -0.3, 0.0 }).to(dtype));
            norm.train();
            var x = data.to(dtype).requires_grad_();
            var y = norm.forward(x, mask);
            (y * upstream).sum().backward();

            var gamma = tensor(new[] { 1.5, -0.5, 2.0, 0.7 }).to(dtype).requires_grad_();
            var beta = tensor(new[] { 0.1, 0.2, -0.3, 0.0 }).to(dtype).requires_grad_();
            var xRef = data.to(dtype).requires_grad_();
            var yRef = ReferenceTraining(xRef.view(-1, 4), gamma, beta).view(4, 40, 4);
            (yRef * upstream).sum().backward();

            MaskedBatchNorm.FusedMinimumEntries = threshold;
            string kind = $"{dtype}, {mask.dtype} mask, fused from {fusedFrom} entries";
            Assert.That(RelativeError(y, yRef), Is.LessThan(tolerance), $"output ({kind})");
            Assert.That(RelativeError(x.grad!, xRef.grad!), Is.LessThan(tolerance * 10), $"input gradient ({kind})");
            var parameters = norm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            Assert.That(RelativeError(parameters["weight"].grad!, gamma.grad!), Is.LessThan(tolerance * 10), $"γ gradient ({kind})");
            Assert.That(RelativeError(parameters["bias"].grad!, beta.grad!), Is.LessThan(tolerance * 10), $"β gradient ({kind})");
            var flat = data.view(-1, 4);
            var expectedMean = 0.1 * flat.mean(new long[] { 0 });
            var expectedVar = 0.9 + 0.1 * flat.var(0, unbiased: true);
            Assert.That(RelativeError(Buffer(norm, "running_mean").to(ScalarType.Float64), expectedMean), Is.LessThan(tolerance), $"running mean ({kind})");
            Assert.That(RelativeError(Buffer(norm, "running_var").to(ScalarType.Float64), expectedVar), Is.LessThan(tolerance), $"running variance ({kind})");
        }
    }

    [Test]
    public void Evaluation_UsesTheRunningStatistics_WithTheVarianceClampedAt1e5()
    {
        var norm = Norm();
        double[] runningMean = { 0.3, -0.2, 4.0 }, runningVar = { 2.0, 0.5, 1e-9 };
        using (no_grad())
        {
            Buffer(norm, "running_mean").copy_(tensor(runningMean));
            Buffer(norm, "running_var").copy_(tensor(runningVar));
        }
        norm.eval();
        var y = norm.forward(Input(), MaskTensor());
        Assert.That(RelativeError(ValidRows(y), ValidRows(Expected(runningMean, runningVar))), Is.LessThan(1e-10));
        // Evaluation leaves the statistics alone.
        Assert.That(RelativeError(Buffer(norm, "running_mean"), tensor(runningMean)), Is.EqualTo(0));
        Assert.That(RelativeError(Buffer(norm, "running_var"), tensor(runningVar)), Is.EqualTo(0));
    }

    [Test]
    public void StatisticsAreSavedInTheStateDict()
    {
        var keys = Norm().state_dict().Keys.ToArray();
        Assert.That(keys, Is.SupersetOf(new[] { "weight", "bias", "running_mean", "running_var" }));
    }
}
