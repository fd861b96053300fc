using LieConv.Groups;
using LieConv.Nn;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Nn;

[TestFixture]
public class BottleBlockTests : SingleThreadedFixture
{
    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData("T(2)", 1).SetArgDisplayNames("T(2)");
        yield return new TestCaseData("SE2(0.2)", 2).SetArgDisplayNames("SE2, 2 lift samples");
        yield return new TestCaseData("SO3(0.2)", 2).SetArgDisplayNames("SO3, 2 lift samples");
        yield return new TestCaseData("Trivial(3)", 1).SetArgDisplayNames("Trivial(3)");
    }

    [TestCaseSource(nameof(Cases))]
    public void Block_KeepsRoundHalfEvenOfTheFraction_WidensTheValues_AndMasksThePadding(string spec, int liftSamples)
    {
        manual_seed(12);
        var group = LieGroup.Parse(spec);
        var clouds = RandomClouds(2, 9, group.SpaceDim, 8);
        var mask = clouds.Mask.clone();
        mask[1, TensorIndex.Slice(3, null)] = tensor(false);            // cloud 1: 3 valid points
        var cloud = LiftedCloud.Lift(group, clouds.Coordinates, clouds.Values, mask, liftSamples, LieConv.Runtime.RandomSource.Counter(0));
        long n = 9 * liftSamples;
        Assert.That(cloud.PointCount, Is.EqualTo(n));
        Assert.That(cloud.Elements.shape, Is.EqualTo(new long[] { 2, n, group.LieDim }));
        Assert.That(cloud.Orbits.shape, Is.EqualTo(new long[] { 2, n, group.QDim }));

        var block = new BottleBlock(group, 8, 16, new LieConvSettings(Neighbourhood: 4, BatchNorm: true), 0.5, Sampling.Create(0, "block"));
        foreach (bool training in new[] { true, false })
        {
            block.train(training);
            var output = block.forward(cloud);
            long m = (long)Math.Round(0.5 * n, MidpointRounding.ToEven);
            Assert.That(output.Values.shape, Is.EqualTo(new long[] { 2, m, 16 }));
            Assert.That(output.Elements.shape, Is.EqualTo(new long[] { 2, m, group.LieDim }));
            Assert.That(output.Orbits.shape, Is.EqualTo(new long[] { 2, m, group.QDim }));
            Assert.That(output.Mask.shape, Is.EqualTo(new long[] { 2, m }));
            Assert.That(AllFinite(output.Values), Is.True);
            // Valid points are kept first: cloud 0 keeps m valid points, cloud 1 its 3·ns and then padding.
            var kept = Indices(output.Mask.to(ScalarType.Int64));
            Assert.That(kept.Take((int)m), Is.All.EqualTo(1));
            long valid1 = 3 * liftSamples;
            Assert.That(kept.Skip((int)m).Take((int)valid1), Is.All.EqualTo(1));
            Assert.That(kept.Skip((int)(m + valid1)), Is.All.EqualTo(0));
        }
    }

    [Test]
    public void Block_WithoutDownsampling_KeepsEveryPoint_AndItsShortcutFeedsTheFirstChannels()
    {
        manual_seed(13);
        var group = new Translations(2);
        var cloud = Lift(group, RandomClouds(1, 7, 2, 8));
        var block = new BottleBlock(group, 8, 12, new LieConvSettings(Neighbourhood: 3), 1, Sampling.Create(0, "block"));
        Assert.That(block.ChooseQueries(cloud), Is.Null);
        var output = block.forward(cloud);
        Assert.That(output.Values.shape, Is.EqualTo(new long[] { 1, 7, 12 }));
        Assert.That(RelativeError(output.Elements, cloud.Elements), Is.EqualTo(0));

        // With the output layer zeroed, the block is exactly its shortcut: the input in the first 8 channels, 0 in the rest.
        using (no_grad())
            foreach (var (name, p) in block.named_parameters().Where(p => p.name.StartsWith("expand"))) p.zero_();
        var shortcut = block.forward(cloud).Values;
        Assert.That(RelativeError(shortcut.narrow(-1, 0, 8), cloud.Values), Is.EqualTo(0));
        Assert.That(MaxAbs(shortcut.narrow(-1, 8, 4)), Is.EqualTo(0));
    }

    [Test]
    public void Block_RefusesToShrinkItsWidth() =>
        Assert.That(() => new BottleBlock(new Translations(2), 16, 8, new LieConvSettings(), 1, Sampling.Create(0, "x")), Throws.ArgumentException);
}
