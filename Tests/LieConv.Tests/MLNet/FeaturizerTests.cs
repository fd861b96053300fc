using LieConv.MLNet;
using LieConv.Models;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.MLNet;

/// <summary>The saveable featurizers, alone and in pipelines ahead of the trainers.</summary>
[TestFixture]
public class FeaturizerTests : TempFolderFixture
{
    private const int Side = 12;

    private sealed class Image
    {
        [VectorType(Side * Side)] public float[] Pixels { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private sealed class Molecule
    {
        [VectorType(0, 3)] public float[] Points { get; set; } = [];
        [VectorType(0)] public float[] Charges { get; set; } = [];
        public float Label { get; set; }
    }

    private sealed class Regression
    {
        public float Score { get; set; }
    }

    /// <summary>Bars (class "bar") and rings (class "ring") of random size and position on a dark background.</summary>
    private static Image[] Images(int count, int seed)
    {
        var random = new Random(seed);
        var images = new Image[count];
        for (int i = 0; i < count; i++)
        {
            var pixels = new float[Side * Side];
            bool bar = i % 2 == 0;
            double cr = 5.5 + random.NextDouble() - 0.5, cc = 5.5 + random.NextDouble() - 0.5, size = 2.5 + random.NextDouble();
            for (int r = 0; r < Side; r++)
                for (int c = 0; c < Side; c++)
                {
                    double dr = r - cr, dc = c - cc;
                    bool on = bar ? Math.Abs(dc) < 1 && Math.Abs(dr) < size : Math.Abs(Math.Sqrt(dr * dr + dc * dc) - size) < 0.7;
                    pixels[r * Side + c] = on ? 1f : 0f;
                }
            images[i] = new Image { Pixels = pixels, Label = bar ? "bar" : "ring" };
        }
        return images;
    }

    [Test]
    public void ImagePointCloudIsTheGridOfTheImageNetwork()
    {
        var ml = new MLContext(seed: 1);
        var images = new[] { new Image { Pixels = Enumerable.Range(0, Side * Side).Select(i => i / 144f).ToArray() } };
        var transformer = ml.Transforms.ConvertImageToPointCloud(imageHeight: Side, imageWidth: Side, cropRadius: 6, mean: 0.130f, std: 0.297f)
            .Fit(ml.Data.LoadFromEnumerable(images));
        var output = transformer.Transform(ml.Data.LoadFromEnumerable(images));

        var (gridPoints, pixels) = ImageLieResNet.Grid(Side, Side, 6, ScalarType.Float32, CPU);
        int n = (int)gridPoints.shape[0];
        Assert.That(transformer.PointCount, Is.EqualTo(n));
        Assert.That(output.Schema["Points"].Type.ToString(), Is.EqualTo($"Vector<Single, {n}, 2>"));
        Assert.That(output.Schema["Features"].Type.ToString(), Is.EqualTo($"Vector<Single, {n}, 1>"));

        var points = output.GetColumn<float[]>("Points").Single();
        var features = output.GetColumn<float[]>("Features").Single();
        Assert.That(points, Is.EqualTo(gridPoints.data<float>().ToArray()), "the same grid as ImageLieResNet, bit for bit");
        var kept = pixels.data<long>().ToArray();
        for (int i = 0; i < n; i++)
            Assert.That(features[i], Is.EqualTo((images[0].Pixels[kept[i]] - 0.130f) / 0.297f));
    }

    [Test]
    public void TwentyEightSquareImagesGiveTheOriginals648Points()
    {
        var ml = new MLContext(seed: 1);
        var estimator = ml.Transforms.ConvertImageToPointCloud();
        var data = ml.Data.LoadFromEnumerable(new[] { new Pixels784() });
        var transformer = estimator.Fit(data);
        Assert.That(transformer.GetOutputSchema(data.Schema).Select(c => c.Name), Does.Contain("Points").And.Contain("Features"));
        Assert.That(transformer.PointCount, Is.EqualTo(648));
    }

    private sealed class Pixels784
    {
        [VectorType(784)] public float[] Pixels { get; set; } = new float[784];
    }

    [Test]
    public void ImagePipelineTrainsEvaluatesSavesLoadsAndPredictsFromPixels()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Images(24, 1));
        var pipeline = ml.Transforms.ConvertImageToPointCloud(imageHeight: Side, imageWidth: Side, cropRadius: 6.5, mean: 0.130f, std: 0.297f)
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.LieConv(new LieConvMulticlassTrainer.Options
            {
                FeaturesColumnName = "Features",
                Group = "T(2)",
                Channels = 8,
                Layers = 1,
                Neighbourhood = 8,
                TotalDownsampling = 0.5,
                Epochs = 2,
                BatchSize = 8,
                Seed = 2,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(train));
        Assert.That(metrics.MacroAccuracy, Is.InRange(0.0, 1.0));
        var scores = TestClouds.Scores(ml, model, train);

        string path = Path.Combine(Folder, "model.zip");
        ml.Model.Save(model, train.Schema, path);
        var fresh = new MLContext(seed: 5);
        var loaded = fresh.Model.Load(path, out _);
        Assert.That(TestClouds.Scores(fresh, loaded, fresh.Data.LoadFromEnumerable(Images(24, 1))), Is.EqualTo(scores));
        var engine = fresh.Model.CreatePredictionEngine<Image, ClassPrediction>(loaded);
        var prediction = engine.Predict(Images(1, 1)[0]);
        Assert.That(prediction.Score, Is.EqualTo(scores[0]));
        Assert.That(prediction.PredictedLabel, Is.AnyOf("bar", "ring"));
    }

    [Test]
    public void WrongPixelCountNamesColumnAndRow()
    {
        var ml = new MLContext(seed: 1);
        var transformer = ml.Transforms.ConvertImageToPointCloud(imageHeight: 10, imageWidth: 10).Fit(ml.Data.LoadFromEnumerable(Images(1, 1)));
        var error = Assert.Catch(() => transformer.Transform(ml.Data.LoadFromEnumerable(Images(2, 1))).GetColumn<float[]>("Features").ToArray());
        Assert.That(TestClouds.Messages(error), Does.Contain($"Column 'Pixels', row 0: has {Side * Side} values; expected C·H·W = 1·10·10 = 100"));
    }

    [Test]
    public void AtomFeaturesMatchTheMoleculeNetworkBitForBit()
    {
        var ml = new MLContext(seed: 1);
        var molecules = Molecules(5, 3);
        var output = ml.Transforms.FeaturizeAtomicNumbers().Fit(ml.Data.LoadFromEnumerable(molecules))
            .Transform(ml.Data.LoadFromEnumerable(molecules));
        Assert.That(output.Schema["Features"].Type.ToString(), Is.EqualTo("Vector<Single, *, 15>"));
        var features = output.GetColumn<float[]>("Features").ToArray();

        using var net = new MoleculeLieResNet(new MoleculeLieResNetOptions { Channels = 4, Layers = 1, Neighbourhood = 4 });
        for (int i = 0; i < molecules.Length; i++)
        {
            var expected = net.Featurize(tensor(molecules[i].Charges).unsqueeze(0)).squeeze(0).flatten().data<float>().ToArray();
            Assert.That(features[i], Is.EqualTo(expected), $"molecule {i}");
        }
    }

    [Test]
    public void UnknownElementNamesColumnRowAndSpecies()
    {
        var ml = new MLContext(seed: 1);
        var molecules = Molecules(3, 3);
        molecules[2].Charges[1] = 17;
        var error = Assert.Catch(() => ml.Transforms.FeaturizeAtomicNumbers().Fit(ml.Data.LoadFromEnumerable(molecules))
            .Transform(ml.Data.LoadFromEnumerable(molecules)).GetColumn<float[]>("Features").ToArray());
        Assert.That(TestClouds.Messages(error), Does.Contain("Column 'Charges', row 2: Atom 1 has atomic number 17; expected atomic numbers among the species 1, 6, 7, 8, 9."));
    }

    [Test]
    public void MoleculePipelineRegressesSavesLoadsAndPredicts()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Molecules(24, 7));
        var pipeline = ml.Transforms.FeaturizeAtomicNumbers()
            .Append(ml.Regression.Trainers.LieConv(new LieConvRegressionTrainer.Options
            {
                FeaturesColumnName = "Features",
                Group = "T(3)",
                Channels = 8,
                Layers = 1,
                Neighbourhood = 4,
                Fill = 1,
                Augmentation = PointCloudAugmentation.SE3,
                Epochs = 2,
                BatchSize = 8,
                Seed = 2,
            }));
        var model = pipeline.Fit(train);
        var metrics = ml.Regression.Evaluate(model.Transform(train));
        Assert.That(double.IsFinite(metrics.MeanAbsoluteError), Is.True);
        var scores = ml.Data.CreateEnumerable<Regression>(model.Transform(train), reuseRowObject: false).Select(r => r.Score).ToArray();

        string path = Path.Combine(Folder, "model.zip");
        ml.Model.Save(model, train.Schema, path);
        var fresh = new MLContext(seed: 9);
        var loaded = fresh.Model.Load(path, out _);
        var engine = fresh.Model.CreatePredictionEngine<Molecule, Regression>(loaded);
        var first = Molecules(1, 7)[0];
        Assert.That(engine.Predict(first).Score, Is.EqualTo(scores[0]));
    }

    /// <summary>Random H/C/O molecules; the label counts the carbons.</summary>
    private static Molecule[] Molecules(int count, int seed)
    {
        var random = new Random(seed);
        int[] elements = [1, 6, 8];
        return Enumerable.Range(0, count).Select(_ =>
        {
            int n = random.Next(3, 8);
            var charges = Enumerable.Range(0, n).Select(_ => (float)elements[random.Next(3)]).ToArray();
            return new Molecule
            {
                Points = Enumerable.Range(0, 3 * n).Select(_ => (float)(random.NextDouble() * 3)).ToArray(),
                Charges = charges,
                Label = charges.Count(z => z == 6),
            };
        }).ToArray();
    }
}
