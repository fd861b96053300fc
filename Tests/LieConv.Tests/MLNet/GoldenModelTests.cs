using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using LieConv.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace LieConv.Tests.MLNet;

/// <summary>
/// A small model.zip committed to the repository must keep loading and predicting what it predicted when it was
/// written, so that the saved format cannot drift unnoticed. <see cref="Regenerate"/> rewrites it on purpose.
/// </summary>
[TestFixture]
public class GoldenModelTests
{
    private sealed class Cloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private static string FixtureDirectory([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "Fixtures", "golden-multiclass");

    /// <summary>Six fixed clouds (circles and segments of different sizes and places), no random numbers.</summary>
    private static Cloud[] Inputs() => Enumerable.Range(0, 6).Select(i =>
    {
        bool circle = i % 2 == 0;
        int n = 8 + i;
        var points = new float[2 * n];
        for (int j = 0; j < n; j++)
        {
            double t = (double)j / n;
            points[2 * j] = (float)(i - 2.5 + (circle ? 2 * Math.Cos(2 * Math.PI * t) : 4 * t - 2));
            points[2 * j + 1] = (float)(0.5 * i + (circle ? 2 * Math.Sin(2 * Math.PI * t) : 0.3 * t));
        }
        return new Cloud { Points = points, Label = circle ? "circle" : "line" };
    }).ToArray();

    private static float[][] Scores(MLContext ml, ITransformer model) =>
        model.Transform(ml.Data.LoadFromEnumerable(Inputs())).GetColumn<float[]>("Score").ToArray();

    [Test]
    public void GoldenModel_Loads_AndPredictsTheRecordedScores()
    {
        var directory = FixtureDirectory();
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(Path.Combine(directory, "model.zip"), out var schema);
        Assert.That(schema.GetColumnOrNull("Points"), Is.Not.Null);

        var expected = JsonSerializer.Deserialize<float[][]>(File.ReadAllText(Path.Combine(directory, "expected-scores.json")))!;
        var actual = Scores(ml, model);
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        for (int i = 0; i < expected.Length; i++)
            // Not bit for bit: the fixture must load on any CPU, whose vector units may round differently.
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-5), $"cloud {i}");
        var labels = model.Transform(ml.Data.LoadFromEnumerable(Inputs())).GetColumn<uint>("PredictedLabel").ToArray();
        Assert.That(labels, Has.Length.EqualTo(6));
    }

    [Test, Explicit("Rewrites the committed fixture; run only when the model format changes on purpose.")]
    public void Regenerate()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Inputs());
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LieConv(new LieConvMulticlassTrainer.Options
            {
                Group = "T(2)", Channels = 8, Layers = 1, Neighbourhood = 6, Epochs = 3, BatchSize = 3, Seed = 1,
            }))
            .Fit(data);
        var directory = FixtureDirectory();
        Directory.CreateDirectory(directory);
        ml.Model.Save(model, data.Schema, Path.Combine(directory, "model.zip"));
        var scores = Scores(ml, model);
        File.WriteAllText(Path.Combine(directory, "expected-scores.json"),
            JsonSerializer.Serialize(scores, new JsonSerializerOptions { WriteIndented = true }));
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {directory}"));
    }
}
