using LieConv.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace LieConv.Tests.MLNet;

/// <summary>A labelled 2-D cloud row.</summary>
public sealed class LabelledCloud
{
    [VectorType(0, 2)] public float[] Points { get; set; } = [];
    public string Label { get; set; } = "";
}

/// <summary>A multiclass prediction row.</summary>
public sealed class ClassPrediction
{
    public float[] Score { get; set; } = [];
    public string PredictedLabel { get; set; } = "";
}

/// <summary>Small two-class data (circles and segments at random positions) and a tiny, fast trainer setting.</summary>
public static class TestClouds
{
    public static LabelledCloud[] Make(int count, int seed)
    {
        var random = new Random(seed);
        var clouds = new LabelledCloud[count];
        for (int i = 0; i < count; i++)
        {
            bool circle = i % 2 == 0;
            int n = random.Next(8, 13);
            float cx = (float)(random.NextDouble() * 4 - 2), cy = (float)(random.NextDouble() * 4 - 2);
            var points = new float[n * 2];
            for (int j = 0; j < n; j++)
            {
                double t = random.NextDouble();
                points[2 * j] = cx + (float)(circle ? 2 * Math.Cos(2 * Math.PI * t) : 4 * t - 2);
                points[2 * j + 1] = cy + (float)(circle ? 2 * Math.Sin(2 * Math.PI * t) : 0);
            }
            clouds[i] = new LabelledCloud { Points = points, Label = circle ? "circle" : "line" };
        }
        return clouds;
    }

    public static LieConvMulticlassTrainer.Options Tiny(int epochs = 2) => new()
    {
        Group = "T(2)",
        Channels = 8,
        Layers = 1,
        Neighbourhood = 6,
        Epochs = epochs,
        BatchSize = 8,
        Seed = 3,
    };

    /// <summary>MapValueToKey → LieConv → MapKeyToValue.</summary>
    public static IEstimator<ITransformer> Pipeline(MLContext ml, LieConvMulticlassTrainer.Options options)
        => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LieConv(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    public static float[][] Scores(MLContext ml, ITransformer model, IDataView data)
        => ml.Data.CreateEnumerable<ClassPrediction>(model.Transform(data), reuseRowObject: false).Select(p => p.Score).ToArray();

    /// <summary>The messages of an exception and its inner exceptions, outermost first.</summary>
    public static string Messages(Exception? e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException)
            parts.Add($"{x.GetType().Name}: {x.Message}");
        return string.Join(" --> ", parts);
    }
}
