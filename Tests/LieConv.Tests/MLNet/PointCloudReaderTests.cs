using LieConv.MLNet.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.MLNet;

[TestFixture]
public class PointCloudReaderTests
{
    private sealed class LabelledCloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
        [VectorType] public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private sealed class TargetCloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
        public float Label { get; set; }
    }

    private sealed class KeyCloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];

        // LoadFromEnumerable reads POCO keys as 0-based (stores value + 1) and maps values >= 3 to key 0 (missing).
        [KeyType(3)] public uint Label { get; set; }
    }

    private sealed class UntypedCloud
    {
        // Like TextLoader's R4:1-* or Concatenate: no d in the type.
        [VectorType] public float[] Points { get; set; } = [];
    }

    private sealed class DoubleCloud
    {
        [VectorType(0, 2)] public double[] Points { get; set; } = [];
    }

    private sealed class TextCloud
    {
        public string Points { get; set; } = "";
    }

    private sealed class DoubleLabelCloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
        public double Label { get; set; }
    }

    private static readonly MLContext Ml = new(seed: 1);

    private static IDataView Load<T>(params T[] rows) where T : class => Ml.Data.LoadFromEnumerable(rows);

    private static IDataView Labelled(params LabelledCloud[] rows)
        => Ml.Transforms.Conversion.MapValueToKey("Label").Fit(Load(rows)).Transform(Load(rows));

    private static float[] Pts(int n, float start = 1) => Enumerable.Range(0, 2 * n).Select(i => start + i).ToArray();

    private static PointCloudReader Reader(IDataView data, PointCloudColumns columns, PointCloudLabelKind? kind = null)
        => new(data.Schema, columns, kind);

    [Test]
    public void DimensionsSurviveAndGiveD()
    {
        var data = Load(new TargetCloud { Points = Pts(1) });
        var type = (VectorDataViewType)data.Schema["Points"].Type;
        Assert.That(type.Dimensions.ToArray(), Is.EqualTo(new[] { 0, 2 }));
        var reader = Reader(data, new PointCloudColumns());
        Assert.That(reader.SpaceDimension, Is.EqualTo(2));
        Assert.That(reader.Channels, Is.EqualTo(1));
        Assert.That(reader.LabelKind, Is.EqualTo(PointCloudLabelKind.None));
    }

    [Test]
    public void RaggedCloudsArePaddedWithZerosAndMasked()
    {
        var data = Labelled(
            new LabelledCloud { Points = Pts(2), Features = [10, 11, 12, 13, 14, 15], Label = "b" },
            new LabelledCloud { Points = Pts(3, 100), Features = [20, 21, 22, 23, 24, 25, 26, 27, 28], Label = "a" },
            new LabelledCloud { Points = Pts(1, 50), Features = [30, 31, 32], Label = "b" });
        var reader = Reader(data, new PointCloudColumns(Features: "Features", Label: "Label"), PointCloudLabelKind.Key);
        Assert.That(reader.LabelKind, Is.EqualTo(PointCloudLabelKind.Key));
        Assert.That(reader.ClassCount, Is.EqualTo(2));
        Assert.That(reader.Channels, Is.Null, "[VectorType] carries no c, so it comes from the first row");

        var rows = reader.ReadBatches(data, batchSize: 8).Single();
        Assert.That(rows.PointCounts, Is.EqualTo(new[] { 2, 3, 1 }));
        Assert.That(rows.PaddedPoints, Is.EqualTo(3));
        Assert.That(rows.Channels, Is.EqualTo(3));
        Assert.That(rows.Coordinates, Is.EqualTo(new float[]
        {
            1, 2, 3, 4, 0, 0,
            100, 101, 102, 103, 104, 105,
            50, 51, 0, 0, 0, 0,
        }));
        Assert.That(rows.Features, Is.EqualTo(new float[]
        {
            10, 11, 12, 13, 14, 15, 0, 0, 0,
            20, 21, 22, 23, 24, 25, 26, 27, 28,
            30, 31, 32, 0, 0, 0, 0, 0, 0,
        }));
        // MapValueToKey numbers by occurrence: "b" is key 1 → class 0.
        Assert.That(rows.Classes, Is.EqualTo(new[] { 0, 1, 0 }));

        using var scope = NewDisposeScope();
        var batch = rows.ToBatch(CPU);
        batch.Validate(2, 3);
        Assert.That(batch.Coordinates.shape, Is.EqualTo(new long[] { 3, 3, 2 }));
        Assert.That(batch.Mask.data<bool>().ToArray(), Is.EqualTo(new[] { true, true, false, true, true, true, true, false, false }));
        Assert.That(batch.Values[2, 0, 2].item<float>(), Is.EqualTo(32f));
        var labels = rows.LabelsTensor(CPU);
        Assert.That(labels.dtype, Is.EqualTo(ScalarType.Int64));
        Assert.That(labels.data<long>().ToArray(), Is.EqualTo(new long[] { 0, 1, 0 }));
    }

    [Test]
    public void BatchSizeThatDoesNotDivideTheRowsLeavesASmallerLastBatch()
    {
        var data = Load(Enumerable.Range(0, 7).Select(i => new TargetCloud { Points = Pts(1 + i % 3), Label = i }).ToArray());
        var reader = Reader(data, new PointCloudColumns(Label: "Label"), PointCloudLabelKind.Single);
        var batches = reader.ReadBatches(data, batchSize: 3).ToList();
        Assert.That(batches.Select(b => b.Count), Is.EqualTo(new[] { 3, 3, 1 }));
        Assert.That(batches.SelectMany(b => b.Targets!), Is.EqualTo(new float[] { 0, 1, 2, 3, 4, 5, 6 }));
        Assert.That(batches[2].PaddedPoints, Is.EqualTo(1));
        Assert.That(batches[0].Features, Is.All.EqualTo(1f).Or.EqualTo(0f));
        Assert.That(batches[0].Features.Take(1), Is.EqualTo(new[] { 1f }));

        using var scope = NewDisposeScope();
        var labels = batches[0].LabelsTensor(CPU);
        Assert.That(labels.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(labels.shape, Is.EqualTo(new long[] { 3 }));
    }

    [Test]
    public void ShufflingCachedDataIsSeededAndKeepsEveryRow()
    {
        var data = Ml.Data.Cache(Load(Enumerable.Range(0, 20).Select(i => new TargetCloud { Points = Pts(1), Label = i }).ToArray()));
        Assert.That(data.CanShuffle, Is.True);
        var reader = Reader(data, new PointCloudColumns(Label: "Label"));
        float[] Order(int? seed) => reader.ReadBatches(data, 6, seed).SelectMany(b => b.Targets!).ToArray();
        var first = Order(5);
        Assert.That(Order(5), Is.EqualTo(first));
        Assert.That(first, Is.Not.EqualTo(Order(null)));
        Assert.That(first.OrderBy(x => x), Is.EqualTo(Order(null)));
    }

    [Test]
    public void UntypedPointsNeedTheCoordinateDimension()
    {
        var data = Load(new UntypedCloud { Points = Pts(2) });
        var error = Assert.Throws<InvalidOperationException>(() => Reader(data, new PointCloudColumns()));
        Assert.That(error!.Message, Does.Contain("'Points'").And.Contain("CoordinateDimension"));
        var reader = Reader(data, new PointCloudColumns(CoordinateDimension: 2));
        Assert.That(reader.ReadBatches(data, 4).Single().PointCounts, Is.EqualTo(new[] { 2 }));
    }

    private static void AssertBadRow(IDataView data, PointCloudColumns columns, string column, int row, params string[] expected)
    {
        var reader = Reader(data, columns);
        var error = Assert.Throws<InvalidDataException>(() => reader.ReadBatches(data, 2).ToList());
        Assert.That(error!.Message, Does.Contain($"Column '{column}'").And.Contain($"row {row}:"));
        foreach (string text in expected)
            Assert.That(error.Message, Does.Contain(text));
    }

    private static IDataView WithBadPoints(float[] bad)
        => Load(new UntypedCloud { Points = Pts(1) }, new UntypedCloud { Points = Pts(2) }, new UntypedCloud { Points = bad });

    [Test]
    public void PointsLengthNotAMultipleOfD()
        => AssertBadRow(WithBadPoints([1, 2, 3]), new PointCloudColumns(CoordinateDimension: 2), "Points", 2, "not a multiple of d = 2");

    [Test]
    public void EmptyCloud()
        => AssertBadRow(WithBadPoints([]), new PointCloudColumns(CoordinateDimension: 2), "Points", 2, "empty", "at least one point");

    [Test]
    public void TooManyPoints()
        => AssertBadRow(WithBadPoints(Pts(3)), new PointCloudColumns(CoordinateDimension: 2, MaxPoints: 2), "Points", 2, "3 points", "MaxPoints = 2");

    [TestCase(float.NaN)]
    [TestCase(float.PositiveInfinity)]
    [TestCase(float.NegativeInfinity)]
    public void NonFiniteCoordinates(float bad)
        => AssertBadRow(WithBadPoints([0, 0, 1, 1, 2, bad]), new PointCloudColumns(CoordinateDimension: 2), "Points", 2, "point 2", "finite coordinates");

    [Test]
    public void NonFiniteFeatures()
    {
        var data = Labelled(
            new LabelledCloud { Points = Pts(2), Features = [1, 2, 3, 4], Label = "a" },
            new LabelledCloud { Points = Pts(2), Features = [1, 2, 3, float.NaN], Label = "a" });
        AssertBadRow(data, new PointCloudColumns(Features: "Features"), "Features", 1, "point 1", "finite features");
    }

    [Test]
    public void FeatureCountDisagreesWithTheFirstRow()
    {
        var data = Labelled(
            new LabelledCloud { Points = Pts(2), Features = [1, 2, 3, 4], Label = "a" },
            new LabelledCloud { Points = Pts(3), Features = [1, 2, 3, 4], Label = "a" });
        AssertBadRow(data, new PointCloudColumns(Features: "Features"), "Features", 1, "4 values for 3 points", "3·2 = 6");
    }

    [Test]
    public void FirstRowFeaturesNotAMultipleOfThePoints()
    {
        var data = Labelled(new LabelledCloud { Points = Pts(2), Features = [1, 2, 3], Label = "a" });
        AssertBadRow(data, new PointCloudColumns(Features: "Features"), "Features", 0, "3 values for 2 points", "multiple of the point count");
    }

    [Test]
    public void MissingKeyLabel()
    {
        // ML.NET's own loaders turn out-of-range keys into key 0, so the out-of-range check is not reached here.
        var data = Load(new KeyCloud { Points = Pts(1), Label = 2 }, new KeyCloud { Points = Pts(1), Label = 3 });
        AssertBadRow(data, new PointCloudColumns(Label: "Label"), "Label", 1, "missing key", "a key in 1..3");
    }

    [Test]
    public void KeyLabelsBecomeZeroBasedClasses()
    {
        var data = Load(new KeyCloud { Points = Pts(1), Label = 2 }, new KeyCloud { Points = Pts(1), Label = 0 });
        var reader = Reader(data, new PointCloudColumns(Label: "Label"));
        Assert.That(reader.ClassCount, Is.EqualTo(3));
        Assert.That(reader.ReadBatches(data, 5).Single().Classes, Is.EqualTo(new[] { 2, 0 }));
    }

    [Test]
    public void MissingColumnsAreNamed()
    {
        var data = Load(new TargetCloud { Points = Pts(1) });
        var error = Assert.Throws<InvalidOperationException>(() => Reader(data, new PointCloudColumns(Points: "Coords")));
        Assert.That(error!.Message, Does.Contain("Column 'Coords' not found").And.Contain("VectorType(0, d)"));
        error = Assert.Throws<InvalidOperationException>(() => Reader(data, new PointCloudColumns(Features: "Colour")));
        Assert.That(error!.Message, Does.Contain("Column 'Colour' not found").And.Contain("vector of Single"));
        error = Assert.Throws<InvalidOperationException>(() => Reader(data, new PointCloudColumns(Label: "Class")));
        Assert.That(error!.Message, Does.Contain("Column 'Class' not found").And.Contain("key"));
    }

    [Test]
    public void PointsOfTheWrongType()
    {
        var doubles = Load(new DoubleCloud { Points = [1, 2] });
        var error = Assert.Throws<InvalidOperationException>(() => Reader(doubles, new PointCloudColumns()));
        Assert.That(error!.Message, Does.Contain("'Points'").And.Contain(doubles.Schema["Points"].Type.ToString()).And.Contain("vector of Single"));

        var text = Load(new TextCloud { Points = "1 2" });
        error = Assert.Throws<InvalidOperationException>(() => Reader(text, new PointCloudColumns()));
        Assert.That(error!.Message, Does.Contain("'Points'").And.Contain(text.Schema["Points"].Type.ToString()).And.Contain("vector of Single"));

        var scalar = Load(new TargetCloud { Points = Pts(1) });
        error = Assert.Throws<InvalidOperationException>(() => Reader(scalar, new PointCloudColumns(Points: "Label")));
        Assert.That(error!.Message, Does.Contain("'Label'").And.Contain("Single").And.Contain("vector of Single"));
    }

    [Test]
    public void LabelsOfTheWrongKind()
    {
        var text = Load(new LabelledCloud { Points = Pts(1), Label = "a" });
        var error = Assert.Throws<InvalidOperationException>(() => Reader(text, new PointCloudColumns(Label: "Label")));
        Assert.That(error!.Message, Does.Contain("'Label'").And.Contain(text.Schema["Label"].Type.ToString()).And.Contain("key").And.Contain("Single"));

        var doubles = Load(new DoubleLabelCloud { Points = Pts(1) });
        error = Assert.Throws<InvalidOperationException>(() => Reader(doubles, new PointCloudColumns(Label: "Label")));
        Assert.That(error!.Message, Does.Contain("'Label'").And.Contain(doubles.Schema["Label"].Type.ToString()));

        var targets = Load(new TargetCloud { Points = Pts(1) });
        error = Assert.Throws<InvalidOperationException>(() => Reader(targets, new PointCloudColumns(Label: "Label"), PointCloudLabelKind.Key));
        Assert.That(error!.Message, Does.Contain("'Label'").And.Contain("Single").And.Contain("expected a label of type a key"));

        var keys = Load(new KeyCloud { Points = Pts(1), Label = 0 });
        error = Assert.Throws<InvalidOperationException>(() => Reader(keys, new PointCloudColumns(Label: "Label"), PointCloudLabelKind.Single));
        Assert.That(error!.Message, Does.Contain("'Label'").And.Contain("Key").And.Contain("Single (regression)"));
    }
}
