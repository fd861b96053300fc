using LieConv.Models;
using LieConv.Nn;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;
using LieConv.Tests.Nn;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Models;

[TestFixture]
public class ModelShapeTests : SingleThreadedFixture
{
    [Test]
    public void LieResNet_StagesHaveTheConfiguredWidthsAndRoundHalfEvenPointCounts()
    {
        manual_seed(20);
        var net = new LieResNet(new LieResNetOptions
        {
            Group = "SE2(0.2)", InputChannels = 2, Outputs = 5, ChannelsPerStage = new[] { 8, 8, 16, 32 }, Layers = 3,
            Downsample = 0.5, LiftSamples = 2, Neighbourhood = 5, Pool = false,
        });
        var clouds = RandomClouds(2, 11, 2, 2);
        var mask = clouds.Mask.clone();
        mask[1, TensorIndex.Slice(4, null)] = tensor(false);
        var batch = clouds with { Mask = mask };
        foreach (bool training in new[] { true, false })
        {
            net.train(training);
            var cloud = net.Lift(batch);
            Assert.That(cloud.PointCount, Is.EqualTo(22));
            var widths = new List<long>();
            var counts = new List<long> { cloud.PointCount };
            var validCounts = new List<long[]>();
            // Each block keeps round-half-even(½·n): 22 → 11 → 6 (5.5 rounds to even) → 3.
            cloud = cloud.WithValues(randn(2, 22, 8));
            foreach (var block in net.Blocks)
            {
                cloud = block.forward(cloud);
                widths.Add(cloud.Values.shape[2]);
                counts.Add(cloud.PointCount);
                validCounts.Add(Indices(cloud.Mask.sum(1)));
            }
            Assert.That(widths, Is.EqualTo(new long[] { 8, 16, 32 }));
            Assert.That(counts, Is.EqualTo(new long[] { 22, 11, 6, 3 }));
            // Cloud 1 has 4 points, 8 lifted: FPS keeps valid points while there are any.
            Assert.That(validCounts.Select(v => v[1]), Is.EqualTo(new long[] { 8, 6, 3 }));
            Assert.That(validCounts.Select(v => v[0]), Is.EqualTo(new long[] { 11, 6, 3 }));

            // Per-point outputs (Pool = false) at the last stage's points.
            var perPoint = net.forward(batch);
            Assert.That(perPoint.shape, Is.EqualTo(new long[] { 2, 3, 5 }));
            Assert.That(AllFinite(perPoint), Is.True);
        }
    }

    [Test]
    public void LieResNet_PooledOutput_IsTheMaskedMeanOfThePerPointOutputs()
    {
        manual_seed(21);
        var perPoint = Net("T(2)", layers: 2, downsample: 0.5, pool: false, neighbourhood: 4);
        var pooled = Net("T(2)", layers: 2, downsample: 0.5, pool: true, neighbourhood: 4);
        CopyWeights(perPoint, pooled);
        perPoint.eval(); pooled.eval();
        var clouds = RandomClouds(3, 10, 2, 2);
        clouds.Mask[2, TensorIndex.Slice(1, null)] = tensor(false);      // 1 valid point of 10
        // 10 → 5 → 2 points (2.5 rounds to even); cloud 2 keeps its one valid point and one padding point.
        var points = perPoint.ForwardPoints(perPoint.Lift(clouds));
        Assert.That(points.Values.shape, Is.EqualTo(new long[] { 3, 2, 3 }));
        Assert.That(Indices(points.Mask.sum(1)), Is.EqualTo(new long[] { 2, 2, 1 }));
        var output = pooled.forward(clouds);
        Assert.That(output.shape, Is.EqualTo(new long[] { 3, 3 }));
        var weight = points.Mask.unsqueeze(-1).to(ScalarType.Float32);
        var expected = (points.Values * weight).sum(1) / weight.sum(1);
        Assert.That(RelativeError(output, expected), Is.LessThan(1e-6));
        Assert.That(RelativeError(perPoint.forward(clouds), points.Values), Is.EqualTo(0));
    }

    [Test]
    public void ImageLieResNet_Grid_Has648PointsWithTheOriginalRowCounts()
    {
        var (points, pixels) = ImageLieResNet.Grid(28, 28, 15, ScalarType.Float32, CPU);
        Assert.That(points.shape, Is.EqualTo(new long[] { 648, 2 }));
        Assert.That(pixels.shape, Is.EqualTo(new long[] { 648 }));
        var rows = Indices(pixels).GroupBy(p => p / 28).Select(g => g.Count()).ToArray();
        Assert.That(rows, Is.EqualTo(new[] { 10, 14, 18, 20, 22, 24, 24, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 26, 26, 24, 24, 22, 20, 18, 14, 10 }));
        Assert.That(points.square().sum(1).sqrt().min().item<float>(), Is.GreaterThan(0.5f), "no point at the origin");
        // First coordinate = row: pixel 0 of the kept set is in row 0, at the top (−14).
        Assert.That(points[0, 0].item<float>(), Is.EqualTo(-14f));
    }

    [Test]
    public void ImageLieResNet_SubsamplesTheGridOnceAndClassifiesAnyBatchSize()
    {
        manual_seed(22);
        var net = new ImageLieResNet(new ImageLieResNetOptions
        {
            Group = "T(2)", Classes = 4, Layers = 2, Channels = 16, TotalDownsample = 0.25, Neighbourhood = 6, Fill = 0.1,
        });
        Assert.That(net.Options.LayerDownsample, Is.EqualTo(0.5).Within(1e-12));
        net.eval();
        var one = net.forward(randn(1, 1, 28, 28));
        Assert.That(one.shape, Is.EqualTo(new long[] { 1, 4 }));
        Assert.That(net.Body.Blocks.Select(b => b.FixedSubsample!.shape[1]), Is.EqualTo(new long[] { 324, 162 }));
        Assert.That(net.forward(randn(3, 1, 28, 28)).shape, Is.EqualTo(new long[] { 3, 4 }));
        // Channels grow as ⌊k / ds^(i/2)⌋: 16, 22, 32.
        Assert.That(net.Body.Blocks.Select(b => b.OutChannels), Is.EqualTo(new long[] { 22, 32 }));
        Assert.That(() => net.forward(randn(2, 3, 28, 28)), Throws.ArgumentException);
    }

    [Test]
    public void MoleculeLieResNet_PredictsOneNumberPerMolecule()
    {
        manual_seed(23);
        var net = new MoleculeLieResNet(new MoleculeLieResNetOptions { Species = new[] { 1, 6, 8 }, Channels = 16, Layers = 1, Neighbourhood = 4 });
        var charges = tensor(new float[,] { { 6, 1, 1, 8, 0 }, { 1, 6, 0, 0, 0 } });
        foreach (bool training in new[] { true, false })
        {
            net.train(training);
            var y = net.forward(new MoleculeBatch(randn(2, 5, 3), charges));
            Assert.That(y.shape, Is.EqualTo(new long[] { 2 }));
            Assert.That(AllFinite(y), Is.True);
        }
        // onehot(Z) ⊗ (1, Z/9, (Z/9)²), species-major: oxygen (index 2) at features 6..8.
        var features = net.Featurize(tensor(new float[,] { { 8, 0 } }));
        Assert.That(Values(features[0, 0]), Is.EqualTo(new[] { 0, 0, 0, 0, 0, 0, 1, 8 / 9.0, 64 / 81.0 }).Within(1e-6));
        Assert.That(Values(features[0, 1]), Is.All.EqualTo(0));
    }
}
