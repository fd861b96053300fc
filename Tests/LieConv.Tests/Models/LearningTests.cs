using System.Diagnostics;
using LieConv.Models;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using LieConv.Tests.Nn;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Models;

/// <summary>
/// Each network overfits a handful of samples: the training loss (training mode, Adam, lr 3e-3) falls at least
/// tenfold. The first loss is compared with the mean of the last 10, so a lucky step cannot pass the test.
/// </summary>
[TestFixture]
public class LearningTests : SingleThreadedFixture
{
    private static (double First, double Last) Train(nn.Module model, int steps, Func<Tensor> loss)
    {
        var optimizer = optim.Adam(model.parameters(), 3e-3);
        model.train();
        var losses = new List<double>();
        var clock = Stopwatch.StartNew();
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var value = loss();
            value.backward();
            optimizer.step();
            losses.Add(value.item<float>());
        }
        double last = losses.TakeLast(10).Average();
        TestContext.Out.WriteLine($"{steps} steps in {clock.ElapsedMilliseconds} ms: loss {losses[0]:F4} → {last:F5}");
        return (losses[0], last);
    }

    [Test]
    public void LieResNet_OverfitsAFewPointClouds()
    {
        TorchRuntime.SeedEverything(70);
        var net = Net("T(2)", layers: 2, width: 32, knn: true, neighbourhood: 8, outputs: 4);
        var clouds = RandomClouds(8, 16, 2, 2);
        var labels = tensor(new long[] { 0, 1, 2, 3, 0, 1, 2, 3 });
        var (first, last) = Train(net, 120, () => nn.functional.cross_entropy(net.forward(clouds), labels));
        Assert.That(last, Is.LessThan(first / 10));
    }

    /// <summary>Four 28×28 "digits": a vertical bar, a horizontal bar, a diagonal and a ring.</summary>
    private static Tensor SyntheticDigits()
    {
        var rows = arange(28, dtype: ScalarType.Float32).view(28, 1).expand(28, 28);
        var cols = arange(28, dtype: ScalarType.Float32).view(1, 28).expand(28, 28);
        var radius = ((rows - 13.5f).square() + (cols - 13.5f).square()).sqrt();
        var digits = new[]
        {
            ((cols - 14).abs() < 2) & ((rows - 14).abs() < 9),
            ((rows - 14).abs() < 2) & ((cols - 14).abs() < 9),
            ((rows - cols).abs() < 2) & ((rows - 14).abs() < 9),
            (radius - 7).abs() < 1.5f,
        };
        return stack(digits.Select(d => d.to(ScalarType.Float32)).ToArray()).unsqueeze(1);
    }

    [Test]
    public void ImageLieResNet_OverfitsAFewDigits()
    {
        TorchRuntime.SeedEverything(71);
        var net = new ImageLieResNet(new ImageLieResNetOptions
        {
            Group = "T(2)", Classes = 4, Layers = 2, Channels = 16, TotalDownsample = 0.1, Neighbourhood = 9, Fill = 0.1,
        });
        var images = SyntheticDigits();
        var labels = tensor(new long[] { 0, 1, 2, 3 });
        var (first, last) = Train(net, 110, () => nn.functional.cross_entropy(net.forward(images), labels));
        Assert.That(last, Is.LessThan(first / 10));
    }

    [Test]
    public void MoleculeLieResNet_OverfitsAFewMolecules()
    {
        TorchRuntime.SeedEverything(72);
        var net = new MoleculeLieResNet(new MoleculeLieResNetOptions
        {
            Species = new[] { 1, 6, 8 }, Group = "T(3)", Channels = 32, Layers = 2, Neighbourhood = 8, Fill = 1, Augment = false,
        });
        var positions = randn(6, 9, 3) * 1.5;
        var charges = tensor(new float[] { 1, 6, 8 }).index_select(0, randint(0, 3, new long[] { 54 })).reshape(6, 9);
        charges[TensorIndex.Slice(0, 3), TensorIndex.Slice(6, null)] = tensor(0f);   // three smaller, padded molecules
        var targets = randn(6);
        var batch = new MoleculeBatch(positions, charges);
        var (first, last) = Train(net, 250, () => (net.forward(batch) - targets).abs().mean());
        Assert.That(last, Is.LessThan(first / 10));
    }
}
