using System.IO.Compression;
using LieConv.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace LieConv.Tests.MLNet;

[TestFixture]
public class LieConvMulticlassTests : TempFolderFixture
{
    // Circles and segments at random positions. They span a few units: a T(2) network sees only differences of
    // positions, and on much smaller clouds its untrained outputs differ between shapes by ~1e-6, too little to learn
    // from in a few steps.
    private static LabelledCloud[] Clouds(int count, int seed) => TestClouds.Make(count, seed);

    private static LieConvMulticlassTrainer.Options TinyOptions(int? seed = 3) => new()
    {
        Group = "T(2)",
        Channels = 16,
        Layers = 2,
        Neighbourhood = 8,
        Epochs = 15,
        BatchSize = 8,
        LearningRate = 3e-3,

        Seed = seed,
    };

    private static ITransformer Fit(MLContext ml, IDataView data, LieConvMulticlassTrainer.Options options)
        => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LieConv(options))
            // Also checks that PredictedLabel carries the label's KeyValues.
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(data);

    private static float[][] Scores(MLContext ml, ITransformer model, IDataView data)
        => ml.Data.CreateEnumerable<ClassPrediction>(model.Transform(data), reuseRowObject: false).Select(p => p.Score).ToArray();

    [Test]
    public void FitsEvaluatesSavesAndLoads()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { if (e.Source.Contains("LieConv")) lock (messages) messages.Add(e.Message); };
        var data = ml.Data.LoadFromEnumerable(Clouds(40, 11));

        var model = Fit(ml, data, TinyOptions());
        var scored = model.Transform(data);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.That(metrics.MacroAccuracy, Is.GreaterThan(0.75), "training accuracy should beat chance (0.5) clearly");
        Assert.That(messages.Any(m => m.Contains("Epoch 15/15")), Is.True, "per-epoch loss is logged through the channel");

        var scores = Scores(ml, model, data);
        Assert.That(scores[0], Has.Length.EqualTo(2));
        Assert.That(scores[0].Sum(), Is.EqualTo(1f).Within(1e-5));

        string path = Path.Combine(Folder, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var fresh = new MLContext(seed: 99);
        var loaded = fresh.Model.Load(path, out var schema);
        Assert.That(schema["Points"].Type, Is.EqualTo(data.Schema["Points"].Type));
        var freshData = fresh.Data.LoadFromEnumerable(Clouds(40, 11));
        Assert.That(Scores(fresh, loaded, freshData), Is.EqualTo(scores), "loaded scores are bit-identical");
        Assert.That(fresh.MulticlassClassification.Evaluate(loaded.Transform(freshData)).MacroAccuracy,
            Is.EqualTo(metrics.MacroAccuracy));

        var engine = fresh.Model.CreatePredictionEngine<LabelledCloud, ClassPrediction>(loaded);
        var one = Clouds(1, 11)[0];
        var prediction = engine.Predict(one);
        // Transform scores rows in padded batches, the engine one cloud at a time: the same network, rounded differently.
        Assert.That(prediction.Score, Is.EqualTo(scores[0]).Within(1e-6f));
        Assert.That(prediction.PredictedLabel, Is.AnyOf("circle", "line"));
        (model as IDisposable)?.Dispose();
        (loaded as IDisposable)?.Dispose();
    }

    [Test]
    public void SameSeedGivesSameScores()
    {
        var clouds = Clouds(24, 5);
        float[][] Run()
        {
            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(clouds);
            var options = TinyOptions(seed: 7);
            options.Epochs = 2;
            return Scores(ml, Fit(ml, data, options), data);
        }
        Assert.That(Run(), Is.EqualTo(Run()));
    }

    [Test]
    public void TranslationLeavesT2ScoresUnchanged()
    {
        var ml = new MLContext(seed: 1);
        var clouds = Clouds(24, 8);
        var options = TinyOptions();
        options.Epochs = 2;
        var model = Fit(ml, ml.Data.LoadFromEnumerable(clouds), options);
        var moved = clouds.Select(c => new LabelledCloud
        {
            Label = c.Label,
            Points = c.Points.Select((v, i) => v + (i % 2 == 0 ? 3.25f : -1.5f)).ToArray(),
        }).ToArray();
        var original = Scores(ml, model, ml.Data.LoadFromEnumerable(clouds));
        var translated = Scores(ml, model, ml.Data.LoadFromEnumerable(moved));
        for (int i = 0; i < original.Length; i++)
            Assert.That(translated[i], Is.EqualTo(original[i]).Within(1e-4f), $"cloud {i}");
    }

    [Test]
    public void TruncatedWeightsGiveAClearError()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Clouds(16, 2));
        var options = TinyOptions();
        options.Epochs = 1;
        var model = Fit(ml, data, options);
        string path = Path.Combine(Folder, "model.zip");
        ml.Model.Save(model, data.Schema, path);

        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var entry = zip.Entries.Single(e => e.FullName.EndsWith("TSModel", StringComparison.Ordinal));
            byte[] bytes;
            using (var stream = entry.Open())
            using (var copy = new MemoryStream())
            {
                stream.CopyTo(copy);
                bytes = copy.ToArray();
            }
            string name = entry.FullName;
            entry.Delete();
            using var truncated = zip.CreateEntry(name).Open();
            truncated.Write(bytes, 0, bytes.Length / 2);
        }

        var error = Assert.Catch(() => new MLContext(seed: 1).Model.Load(path, out _));
        var chain = new List<Exception>();
        for (var e = error; e is not null; e = e.InnerException)
            chain.Add(e);
        Assert.That(chain.OfType<FormatException>().Any(e => e.Message.Contains("model.zip") && e.Message.Contains("TSModel")), Is.True,
            string.Join(" --> ", chain.Select(e => $"{e.GetType().Name}: {e.Message}")));
    }
}
