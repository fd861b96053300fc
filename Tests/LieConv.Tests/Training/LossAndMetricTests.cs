using LieConv.Training;
using LieConv.Tests.Nn;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Training;

[TestFixture]
public class LossAndMetricTests : SingleThreadedFixture
{
    [Test]
    public void CrossEntropy_MatchesHandComputationAndSkipsIgnoredLabels()
    {
        var logits = tensor(new float[] { 2, 0, 0, 0 }, new long[] { 2, 2 });
        // Row 0: −log(e²/(e² + 1)) = log(1 + e⁻²); row 1: log 2.
        double row0 = Math.Log(1 + Math.Exp(-2)), row1 = Math.Log(2);
        Assert.That(Losses.CrossEntropy(logits, tensor(new long[] { 0, 1 })).item<float>(), Is.EqualTo((row0 + row1) / 2).Within(1e-6));
        Assert.That(Losses.CrossEntropy(logits, tensor(new long[] { 0, Losses.IgnoreIndex })).item<float>(), Is.EqualTo(row0).Within(1e-6));
    }

    [Test]
    public void StandardisedL1_AndMae_MatchHandComputation()
    {
        var scaling = new TargetScaling(mean: 1, std: 2);
        var prediction = tensor(new float[] { 0.5f, -1f });
        var target = tensor(new float[] { 3f, 1f });
        // Standardised targets (3 − 1)/2 = 1 and 0: |0.5 − 1| = 0.5, |−1 − 0| = 1 → 0.75.
        Assert.That(Losses.StandardisedL1(prediction, target, scaling).item<float>(), Is.EqualTo(0.75).Within(1e-7));
        // De-standardised predictions 0.5·2 + 1 = 2 and −1·2 + 1 = −1: |2 − 3| = 1, |−1 − 1| = 2 → 1.5 (= σ · L1).
        var mae = Metrics.MeanAbsoluteError(prediction, target, scaling);
        Assert.That(mae.dtype, Is.EqualTo(ScalarType.Float64));
        Assert.That(mae.item<double>(), Is.EqualTo(1.5).Within(1e-12));
    }

    [Test]
    public void MeanSquaredError_MatchesHandComputation()
    {
        var value = Metrics.MeanSquaredError(tensor(new float[] { 1, 2, 3 }), tensor(new float[] { 1, 0, 0 }));
        Assert.That(value.item<float>(), Is.EqualTo(13.0 / 3).Within(1e-6));
        Assert.That(Losses.MeanSquaredError(tensor(new float[] { 1, 2, 3 }), tensor(new float[] { 1, 0, 0 })).item<float>(), Is.EqualTo(13.0 / 3).Within(1e-6));
    }

    [Test]
    public void Accuracy_CountsArgmaxHitsAndTreatsIgnoredLabelsAsWrongLikeTheOriginal()
    {
        var logits = tensor(new float[] { 1, 2, 3, 0, 0, 5, 2, 1 }, new long[] { 4, 2 });   // argmax 1, 0, 1, 0
        var labels = tensor(new long[] { 1, 0, 0, Losses.IgnoreIndex });
        Assert.That(Metrics.Accuracy(logits, labels).item<float>(), Is.EqualTo(0.5));
    }

    [Test]
    public void LossesRejectShapesThatWouldBroadcast()
    {
        var column = zeros(4, 1);
        var row = zeros(4);
        Assert.That(() => Losses.MeanSquaredError(column, row), Throws.ArgumentException);
        Assert.That(() => Losses.StandardisedL1(row, column, TargetScaling.Identity), Throws.ArgumentException);
        Assert.That(() => Losses.CrossEntropy(zeros(4, 3), zeros(new long[] { 3 }, dtype: ScalarType.Int64)), Throws.ArgumentException);
        Assert.That(() => new TargetScaling(0, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void MetricAverager_WeightsARaggedLastBatchByItsActualSize()
    {
        using var averager = new MetricAverager();
        averager.Add("m", tensor(1.0f), 4);
        averager.Add("m", tensor(2.0f), 4);
        averager.Add("m", tensor(4.0f), 2);
        // Actual sizes: (4·1 + 4·2 + 2·4)/10 = 2. The original's nominal weighting would give (4 + 8 + 16)/12 ≈ 2.33.
        Assert.That(averager.Averages()["m"], Is.EqualTo(2.0).Within(1e-12));
        Assert.That(averager.Weight("m"), Is.EqualTo(10));
        Assert.That(() => averager.Add("m", zeros(2), 2), Throws.ArgumentException);
    }

    [Test]
    public void MetricDirections_FollowOilsNamingRule()
    {
        Assert.That(MetricDirections.Infer("valid_MAE"), Is.EqualTo(MetricDirection.Minimize));
        Assert.That(MetricDirections.Infer("val_MSE"), Is.EqualTo(MetricDirection.Minimize));
        Assert.That(MetricDirections.Infer("Loss"), Is.EqualTo(MetricDirection.Minimize));
        Assert.That(MetricDirections.Infer("test_err"), Is.EqualTo(MetricDirection.Minimize));
        Assert.That(MetricDirections.Infer("Acc"), Is.EqualTo(MetricDirection.Maximize));
        Assert.That(MetricDirections.Infer("score"), Is.Null);
        Assert.That(MetricDirections.Resolve("score", MetricDirection.Maximize), Is.EqualTo(MetricDirection.Maximize));
        Assert.That(() => MetricDirections.Resolve("score", MetricDirection.Auto), Throws.ArgumentException.With.Message.Contains("score"));
    }

    [Test]
    public void IndexBatchSource_ShufflesPerEpochFromTheSeedAndCutsBatches()
    {
        var source = new IndexBatchSource<int[]>(10, 4, indices => indices, shuffle: true, seed: 3);
        Assert.That(source.BatchesPerEpoch, Is.EqualTo(3));
        var epoch0 = source.Batches(0).ToArray();
        Assert.That(epoch0.Select(b => b.Length), Is.EqualTo(new[] { 4, 4, 2 }));
        Assert.That(epoch0.SelectMany(b => b).Order(), Is.EqualTo(Enumerable.Range(0, 10)));
        Assert.That(source.Batches(0).SelectMany(b => b), Is.EqualTo(epoch0.SelectMany(b => b)), "same seed and epoch, same order");
        var again = new IndexBatchSource<int[]>(10, 4, indices => indices, shuffle: true, seed: 3);
        Assert.That(again.Batches(1).SelectMany(b => b), Is.EqualTo(source.Batches(1).SelectMany(b => b)), "a new source reproduces any epoch");
        Assert.That(source.Batches(1).SelectMany(b => b), Is.Not.EqualTo(epoch0.SelectMany(b => b)));

        var dropping = new IndexBatchSource<int[]>(10, 4, indices => indices, shuffle: false, dropLast: true);
        Assert.That(dropping.BatchesPerEpoch, Is.EqualTo(2));
        Assert.That(dropping.Batches(0).SelectMany(b => b), Is.EqualTo(Enumerable.Range(0, 8)));
    }
}
