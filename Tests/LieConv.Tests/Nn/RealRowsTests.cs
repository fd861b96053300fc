using LieConv.Models;
using LieConv.Nn;
using NUnit.Framework;
using static TorchSharp.torch;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Nn;

/// <summary>
/// On the CPU the point-wise layers and the convolution's dense layer run on real points only: the network's
/// outputs, gradients and batch statistics must be those of running every layer on the dense, padded batch.
/// </summary>
[TestFixture]
public class RealRowsTests : SingleThreadedFixture
{
    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData("T(3)", 1, false, 1.0).SetArgDisplayNames("T(3) balls, fill 1");
        yield return new TestCaseData("SE3(.2)", 2, false, 0.5).SetArgDisplayNames("SE3, 2 lifts, balls");
        yield return new TestCaseData("T(2)", 1, true, 1.0).SetArgDisplayNames("T(2) kNN");
    }

    [TestCaseSource(nameof(Cases))]
    public void SkippingPadding_GivesTheOutputsGradientsAndStatisticsOfTheDenseBatch(string group, int liftSamples, bool knn, double fill)
    {
        manual_seed(91);
        int dim = group.StartsWith("T(2") ? 2 : 3;
        var clouds = RandomClouds(3, 10, dim, 2);
        clouds.Mask[0, TensorIndex.Slice(6, null)] = tensor(false);      // 6, 10 and 3 real points
        clouds.Mask[2, TensorIndex.Slice(3, null)] = tensor(false);
        var model = new LieResNet(new LieResNetOptions
        {
            Group = group, InputChannels = 2, Outputs = 2, Channels = 16, Layers = 2, Neighbourhood = 5, Fill = fill,
            Knn = knn, LiftSamples = liftSamples, Downsample = 0.75,
        });
        var start = model.state_dict().ToDictionary(e => e.Key, e => e.Value.clone());

        (double[] Output, List<double[]> Grads, List<double[]> Buffers) Run(bool skip, bool training)
        {
            RealRows.SkipPadding = skip;
            try
            {
                using (no_grad())
                    foreach (var (name, value) in model.state_dict()) value.copy_(start[name]);
                model.train(training);
                manual_seed(92);
                var output = model.forward(clouds);
                var grads = model.parameters().Select(p => Values(autograd.grad(new[] { output.square().sum() }, new[] { p }, retain_graph: true)[0])).ToList();
                return (Values(output), grads, model.buffers().Select(Values).ToList());
            }
            finally { RealRows.SkipPadding = true; }
        }

        foreach (bool training in new[] { true, false })
        {
            var dense = Run(skip: false, training);
            var skipped = Run(skip: true, training);
            Assert.That(skipped.Output, Is.EqualTo(dense.Output).Within(1e-4), $"outputs, training {training}");
            for (int i = 0; i < dense.Grads.Count; i++)
            {
                double scale = Math.Max(dense.Grads[i].Max(Math.Abs), 1e-2);
                Assert.That(skipped.Grads[i].Select(g => g / scale), Is.EqualTo(dense.Grads[i].Select(g => g / scale)).Within(1e-3), $"gradient {i}, training {training}");
            }
            for (int i = 0; i < dense.Buffers.Count; i++)
                Assert.That(skipped.Buffers[i], Is.EqualTo(dense.Buffers[i]).Within(1e-4), $"buffer {i} (running statistics, radii), training {training}");
        }
    }

    [Test]
    public void Rows_AreTheRealPoints_AndUnpackPutsThemBackWithZeroPadding()
    {
        var mask = tensor(new[] { true, false, true, true, false, false }).view(2, 3);
        var real = RealRows.Of(mask, 2)!;
        Assert.That(Indices(real.Rows), Is.EqualTo(new long[] { 0, 2, 3 }));
        var values = arange(12, dtype: ScalarType.Float32).view(2, 3, 2);
        var packed = real.Pack(values);
        Assert.That(Values(packed), Is.EqualTo(new double[] { 0, 1, 4, 5, 6, 7 }));
        Assert.That(Values(real.Unpack(packed)), Is.EqualTo(new double[] { 0, 1, 0, 0, 4, 5, 6, 7, 0, 0, 0, 0 }));
        Assert.That(RealRows.Of(ones(1, 4, dtype: ScalarType.Bool), 3), Is.Null, "nothing to skip without padding");
        Assert.That(Indices(RealRows.Of(tensor(new[] { true, false }).view(1, 2), 2)!.Rows), Is.EqualTo(new long[] { 0, 2 }), "a shared mask counts for every cloud");
    }
}
