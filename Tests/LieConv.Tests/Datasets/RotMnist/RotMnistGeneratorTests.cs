using LieConv.Datasets.RotMnist;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.RotMnist;

/// <summary><see cref="RotMnistGenerator"/>: seeded, uniform angles; each digit rotated by its own angle; deterministic per seed.</summary>
[TestFixture]
public sealed class RotMnistGeneratorTests
{
    private static List<RotMnistImage> Digits(int count) => RotMnistDataset.BuiltinTest().Take(count).ToList();

    [Test]
    public void Rotate_IsDeterministicForASeedAndDiffersAcrossSeeds()
    {
        var digits = Digits(20);
        var first = RotMnistGenerator.Rotate(digits, 7).ToList();
        var again = RotMnistGenerator.Rotate(digits, 7).ToList();
        var other = RotMnistGenerator.Rotate(digits, 8).ToList();

        Assert.That(again.Select(i => i.Pixels), Is.EqualTo(first.Select(i => i.Pixels)));
        Assert.That(first.Select(i => i.Label), Is.EqualTo(digits.Select(d => d.Label)), "labels are kept, in order");
        Assert.That(other.Select(i => i.Label), Is.EqualTo(digits.Select(d => d.Label)));
        int differing = first.Zip(other).Count(p => !p.First.Pixels.SequenceEqual(p.Second.Pixels));
        Assert.That(differing, Is.EqualTo(digits.Count), "another seed gives other angles, hence other images");
        Assert.That(RotMnistGenerator.Angles(7).Take(5), Is.EqualTo(RotMnistGenerator.Angles(7).Take(5)));
        Assert.That(RotMnistGenerator.Angles(7).Take(5), Is.Not.EqualTo(RotMnistGenerator.Angles(8).Take(5)));
    }

    [Test]
    public void Rotate_TurnsDigitKByTheKthAngleAndLeavesTheInputAlone()
    {
        var digits = Digits(10);
        var copies = digits.Select(d => (float[])d.Pixels.Clone()).ToList();
        var angles = RotMnistGenerator.Angles(123).Take(digits.Count).ToList();
        var rotated = RotMnistGenerator.Rotate(digits, 123).ToList();
        for (int k = 0; k < digits.Count; k++)
        {
            Assert.That(rotated[k].Pixels, Is.EqualTo(ImageRotation.Rotate(copies[k], RotMnistImage.Height, RotMnistImage.Width, angles[k])), $"digit {k}");
            Assert.That(digits[k].Pixels, Is.EqualTo(copies[k]), $"digit {k} is not modified");
        }
    }

    [Test]
    public void Angles_AreUniformOnZeroToTwoPi()
    {
        var angles = RotMnistGenerator.Angles(2002).Take(20_000).ToList();
        Assert.That(angles, Has.All.GreaterThanOrEqualTo(0.0).And.All.LessThan(2 * Math.PI));
        Assert.That(angles.Average(), Is.EqualTo(Math.PI).Within(0.05));
        for (int quarter = 0; quarter < 4; quarter++)
        {
            double share = angles.Count(a => (int)(a / (Math.PI / 2)) == quarter) / (double)angles.Count;
            Assert.That(share, Is.EqualTo(0.25).Within(0.015), $"quarter {quarter}");
        }
    }

    [Test]
    public void FromIdx_OnTheSharedMnist_RotatesTheRealDigits()
    {
        string images = TestData.RequireSharedFile(RotMnistTestData.MnistImages);
        string labels = TestData.RequireSharedFile(RotMnistTestData.MnistLabels);
        var upright = RotMnistDataset.ReadIdx(images, labels).Take(3).ToList();
        var rotated = RotMnistGenerator.FromIdx(images, labels, 5).Take(3).ToList();
        Assert.That(rotated.Select(r => r.Pixels), Is.EqualTo(RotMnistGenerator.Rotate(upright, 5).Select(r => r.Pixels)));
        Assert.That(rotated.Select(r => r.Label), Is.EqualTo(new[] { 7, 2, 1 }));
    }
}
