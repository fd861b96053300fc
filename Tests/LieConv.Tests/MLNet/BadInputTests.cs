using LieConv.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace LieConv.Tests.MLNet;

/// <summary>Every bad input of issue 4 raises a clear .NET exception naming the column, row and expectation.</summary>
[TestFixture]
public class BadInputTests
{
    private sealed class KeyCloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
        [KeyType(2)] public uint Label { get; set; }
    }

    private sealed class FeatureCloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
        [VectorType(0, 3)] public float[] Features { get; set; } = [];
        [KeyType(2)] public uint Label { get; set; }
    }

    private sealed class DoubleCloud
    {
        [VectorType(0, 2)] public double[] Points { get; set; } = [];
        [KeyType(2)] public uint Label { get; set; }
    }

    private sealed class StringLabelCloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private sealed class Point
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
    }

    // LoadFromEnumerable reads a POCO key field as a 0-based index (0 → key 1); values past the count become key 0.
    private static KeyCloud[] Good(int count) => TestClouds.Make(count, 5)
        .Select(c => new KeyCloud { Points = c.Points, Label = c.Label == "circle" ? 0u : 1u }).ToArray();

    private static Exception FitError<T>(IEnumerable<T> rows, Action<LieConvMulticlassTrainer.Options>? configure = null) where T : class
    {
        var ml = new MLContext(seed: 1);
        var options = TestClouds.Tiny(epochs: 1);
        configure?.Invoke(options);
        var data = ml.Data.LoadFromEnumerable(rows);
        return Assert.Catch(() => ml.MulticlassClassification.Trainers.LieConv(options).Fit(data))!;
    }

    private static KeyCloud[] WithRow(int row, float[] points)
    {
        var rows = Good(6);
        rows[row].Points = points;
        return rows;
    }

    [TestCase(new float[] { 1, 2, 3, 4, 5 }, "5 values, not a multiple of d = 2", "a flattened (N, 2) array of coordinates")]
    [TestCase(new float[] { 1, 2, float.NaN, 4 }, "point 1 has the non-finite value NaN", "finite coordinates")]
    [TestCase(new float[] { 1, 2, 3, float.PositiveInfinity }, "point 1 has the non-finite value Infinity", "finite coordinates")]
    [TestCase(new float[0], "is an empty point cloud", "at least one point")]
    public void BadPointsInTrainingNameColumnRowAndExpectation(float[] points, string problem, string expectation)
    {
        var error = FitError(WithRow(3, points));
        Assert.That(error, Is.InstanceOf<InvalidDataException>());
        Assert.That(error.Message, Does.StartWith("Column 'Points', row 3:").And.Contain(problem).And.Contain("expected " + expectation));
    }

    [Test]
    public void CloudLargerThanMaxPoints()
    {
        var error = FitError(WithRow(2, new float[24]), o => o.MaxPoints = 11);
        Assert.That(error.Message, Is.EqualTo("Column 'Points', row 2: has 12 points; expected at most MaxPoints = 11 points."));
    }

    [Test]
    public void FeaturesNotMatchingThePointCount()
    {
        var rows = Good(4).Select(c => new FeatureCloud { Points = c.Points, Features = new float[c.Points.Length / 2 * 3], Label = c.Label }).ToArray();
        rows[1].Features = new float[7];
        var error = FitError(rows, o => o.FeaturesColumnName = "Features");
        Assert.That(error, Is.InstanceOf<InvalidDataException>());
        Assert.That(error.Message, Does.StartWith("Column 'Features', row 1: has 7 values for").And.Contain("N·c"));
    }

    [Test]
    public void LabelOutOfRange()
    {
        var rows = Good(4);
        rows[2].Label = 2;
        var error = FitError(rows);
        Assert.That(error.Message, Is.EqualTo(
            "Column 'Label', row 2: is the missing key value 0 (a label unknown to the key mapping, or out of its range); expected a key in 1..2."));
    }

    [Test]
    public void MissingPointsColumn()
    {
        var error = FitError(Good(4), o => o.PointsColumnName = "Coordinates");
        Assert.That(TestClouds.Messages(error), Does.Contain("Coordinates").And.Contain("points"));
    }

    [Test]
    public void WronglyTypedPointsColumn()
    {
        var rows = Good(4).Select(c => new DoubleCloud { Points = c.Points.Select(v => (double)v).ToArray(), Label = c.Label });
        var error = FitError(rows);
        Assert.That(TestClouds.Messages(error), Does.Contain("Points").And.Contain("vector of Single").And.Contain("Double"));
    }

    [Test]
    public void LabelThatIsNotAKey()
    {
        var rows = TestClouds.Make(4, 1).Select(c => new StringLabelCloud { Points = c.Points, Label = c.Label });
        var error = FitError(rows);
        Assert.That(TestClouds.Messages(error), Does.Contain("Label").And.Contain("key"));
    }

    [Test]
    public void BadRowsAtPredictionTimeAreRefusedToo()
    {
        var ml = new MLContext(seed: 1);
        var options = TestClouds.Tiny(epochs: 1);
        options.MaxPoints = 20;
        var model = ml.MulticlassClassification.Trainers.LieConv(options).Fit(ml.Data.LoadFromEnumerable(Good(8)));
        var engine = ml.Model.CreatePredictionEngine<Point, ClassPredictionKey>(model);

        var nan = Assert.Catch<InvalidDataException>(() => engine.Predict(new Point { Points = [0, 0, float.NaN, 1] }));
        Assert.That(nan!.Message, Does.StartWith("Column 'Points', row").And.Contain("non-finite value NaN"));
        var odd = Assert.Catch<InvalidDataException>(() => engine.Predict(new Point { Points = [0, 0, 1] }));
        Assert.That(odd!.Message, Does.Contain("not a multiple of d = 2"));
        var large = Assert.Catch<InvalidDataException>(() => engine.Predict(new Point { Points = new float[42] }));
        Assert.That(large!.Message, Does.Contain("21 points").And.Contain("MaxPoints = 20"));

        // A transformed view reports the row of the data.
        var data = ml.Data.LoadFromEnumerable(new[] { new Point { Points = [0, 0, 1, 1] }, new Point { Points = [] } });
        var error = Assert.Catch(() => model.Transform(data).GetColumn<float[]>("Score").ToArray());
        Assert.That(TestClouds.Messages(error), Does.Contain("Column 'Points', row 1: is an empty point cloud"));
    }

    private sealed class ClassPredictionKey
    {
        public float[] Score { get; set; } = [];
        public uint PredictedLabel { get; set; }
    }
}
