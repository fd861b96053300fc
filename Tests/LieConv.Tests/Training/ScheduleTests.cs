using LieConv.Training;
using NUnit.Framework;

namespace LieConv.Tests.Training;

[TestFixture]
public class ScheduleTests
{
    private const double Tolerance = 1e-12;

    [TestCase(0.0, 1.0)]
    [TestCase(2.5, 0.85355339059327373)]     // ½(1 + cos(π/4))
    [TestCase(5.0, 0.5)]
    [TestCase(7.5, 0.14644660940672627)]     // ½(1 − cos(π/4))
    [TestCase(9.99, 0.001)]                  // ½(1 + cos(0.999π)) ≈ 2.5e-6, floored
    [TestCase(10.0, 1.0)]                    // a new cycle, as oil's cycle multiplier 1
    [TestCase(12.5, 0.85355339059327373)]
    public void Cosine_MatchesTheFormula(double epoch, double expected) =>
        Assert.That(new CosineSchedule(10).Factor(epoch), Is.EqualTo(expected).Within(Tolerance));

    [TestCase(0.0, 0.0)]
    [TestCase(0.5, 0.49996915812041515)]     // 0.5 · ½(1 + cos(π·0.005))
    [TestCase(1.0, 0.9997532801828658)]     // warm-up done: ½(1 + cos(π·0.01))
    [TestCase(50.0, 0.5)]
    public void Warmup_RampsLinearlyOverOnePercentThenFollowsTheInnerSchedule(double epoch, double expected) =>
        Assert.That(new WarmupSchedule(new CosineSchedule(100), 100).Factor(epoch), Is.EqualTo(expected).Within(Tolerance));

    [Test]
    public void FactorAtStep_LagsOneStep()
    {
        var cosine = new CosineSchedule(2);
        // S = 4: step g uses λ((g − 1)/4), and steps 0 and 1 both use λ(0).
        Assert.That(cosine.FactorAtStep(0, 4), Is.EqualTo(1.0));
        Assert.That(cosine.FactorAtStep(1, 4), Is.EqualTo(1.0));
        Assert.That(cosine.FactorAtStep(2, 4), Is.EqualTo(cosine.Factor(0.25)).Within(Tolerance));
        Assert.That(cosine.FactorAtStep(3, 4), Is.EqualTo(0.85355339059327373).Within(Tolerance));   // λ(0.5)
        Assert.That(cosine.FactorAtStep(5, 4), Is.EqualTo(0.5).Within(Tolerance));                   // λ(1)
        Assert.That(cosine.FactorAtStep(8, 4), Is.EqualTo(cosine.Factor(1.75)).Within(Tolerance));   // the last step of 2 epochs
    }

    [Test]
    public void Warmup_StartsWithTwoZeroLearningRateSteps()
    {
        var warmup = new WarmupSchedule(new CosineSchedule(100), 100);
        Assert.That(warmup.FactorAtStep(0, 4), Is.EqualTo(0.0));
        Assert.That(warmup.FactorAtStep(1, 4), Is.EqualTo(0.0));
        // Step 2: λ(0.25) = 0.25 · ½(1 + cos(π·0.0025)).
        Assert.That(warmup.FactorAtStep(2, 4), Is.EqualTo(0.25 * 0.5 * (1 + Math.Cos(Math.PI * 0.0025))).Within(Tolerance));
        Assert.That(warmup.FactorAtStep(2, 4), Is.GreaterThan(0.2499));
    }

    [Test]
    public void Schedules_RejectBadArguments()
    {
        Assert.That(() => new CosineSchedule(0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new CosineSchedule(3).Factor(-0.1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new WarmupSchedule(new CosineSchedule(3), 3, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new CosineSchedule(3).FactorAtStep(0, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(ConstantSchedule.Instance.FactorAtStep(17, 3), Is.EqualTo(1.0));
    }
}
