using LieConv.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace LieConv.Tests.MLNet;

[TestFixture]
public class LieConvRegressionTests : TempFolderFixture
{
    private sealed class Cloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
        public float Label { get; set; }
    }

    private sealed class Prediction
    {
        public float Score { get; set; }
    }

    /// <summary>Points on circles at random positions; the label is the radius, in [1, 3].</summary>
    /// <remarks>A T(2) network sees only differences of positions, which the radius scales, so it can learn it.</remarks>
    private static Cloud[] Clouds(int count, int seed)
    {
        var random = new Random(seed);
        var clouds = new Cloud[count];
        for (int i = 0; i < count; i++)
        {
            float radius = 1 + 2 * (float)random.NextDouble();
            int n = random.Next(8, 13);
            float cx = (float)(random.NextDouble() * 4 - 2), cy = (float)(random.NextDouble() * 4 - 2);
            var points = new float[n * 2];
            for (int j = 0; j < n; j++)
            {
                double t = random.NextDouble();
                points[2 * j] = cx + radius * (float)Math.Cos(2 * Math.PI * t);
                points[2 * j + 1] = cy + radius * (float)Math.Sin(2 * Math.PI * t);
            }
            clouds[i] = new Cloud { Points = points, Label = radius };
        }
        return clouds;
    }

    private static LieConvRegressionTrainer.Options TinyOptions() => new()
    {
        Group = "T(2)",
        Channels = 16,
        Layers = 2,
        Neighbourhood = 8,
        Epochs = 40,
        // Batch norm's running statistics from a few tiny batches make evaluation-mode outputs noisy here.
        BatchNorm = false,
        BatchSize = 8,
        LearningRate = 1e-2,
        Seed = 3,
    };

    private static float[] Scores(MLContext ml, ITransformer model, IDataView data)
        => ml.Data.CreateEnumerable<Prediction>(model.Transform(data), reuseRowObject: false).Select(p => p.Score).ToArray();

    [Test]
    public void FitsEvaluatesSavesAndLoads()
    {
        var ml = new MLContext(seed: 1);
        var clouds = Clouds(40, 11);
        var data = ml.Data.LoadFromEnumerable(clouds);

        using var model = ml.Regression.Trainers.LieConv(TinyOptions()).Fit(data);
        var metrics = ml.Regression.Evaluate(model.Transform(data));
        double mean = clouds.Average(c => c.Label);
        double meanBaseline = clouds.Average(c => Math.Abs(c.Label - mean));
        Assert.That(metrics.MeanAbsoluteError, Is.LessThan(0.75 * meanBaseline), "training MAE should beat predicting the mean");
        Assert.That(model.LabelScaling.Mean, Is.EqualTo(mean).Within(1e-6));

        var scores = Scores(ml, model, data);
        string path = Path.Combine(Folder, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var fresh = new MLContext(seed: 99);
        var loaded = fresh.Model.Load(path, out var schema);
        Assert.That(schema["Points"].Type, Is.EqualTo(data.Schema["Points"].Type));
        Assert.That(loaded, Is.InstanceOf<LieConvRegressionTransformer>());
        var freshData = fresh.Data.LoadFromEnumerable(Clouds(40, 11));
        Assert.That(Scores(fresh, loaded, freshData), Is.EqualTo(scores), "loaded scores are bit-identical");
        Assert.That(fresh.Regression.Evaluate(loaded.Transform(freshData)).MeanAbsoluteError, Is.EqualTo(metrics.MeanAbsoluteError));

        var engine = fresh.Model.CreatePredictionEngine<Cloud, Prediction>(loaded);
        // Transform scores rows in padded batches, the engine one cloud at a time: equal up to float rounding.
        for (int i = 0; i < clouds.Length; i++)
            Assert.That(engine.Predict(clouds[i]).Score, Is.EqualTo(scores[i]).Within(1e-5 * (1 + Math.Abs(scores[i]))), $"cloud {i}");
        (loaded as IDisposable)?.Dispose();
    }

    [Test]
    public void ConvenienceOverloadFitsWithDefaults()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Clouds(8, 4));
        var trainer = ml.Regression.Trainers.LieConv(epochs: 1, batchSize: 4);
        using var model = trainer.Fit(data);
        Assert.That(Scores(ml, model, data), Has.All.Matches<float>(float.IsFinite));
    }

    [Test]
    public void NaNLabelGivesTheReadersError()
    {
        var ml = new MLContext(seed: 1);
        var clouds = Clouds(4, 2);
        clouds[2].Label = float.NaN;
        var options = TinyOptions();
        options.Epochs = 1;
        var error = Assert.Throws<InvalidDataException>(
            () => ml.Regression.Trainers.LieConv(options).Fit(ml.Data.LoadFromEnumerable(clouds)));
        Assert.That(error!.Message, Does.Contain("Column 'Label', row 2").And.Contain("finite regression target"));
    }

    [Test]
    public void KeyLabelIsRejected()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Clouds(4, 2)))
            .Transform(ml.Data.LoadFromEnumerable(Clouds(4, 2)));
        Assert.That(() => ml.Regression.Trainers.LieConv(TinyOptions()).Fit(data), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
