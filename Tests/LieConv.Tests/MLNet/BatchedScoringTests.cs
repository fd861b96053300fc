using LieConv.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace LieConv.Tests.MLNet;

/// <summary>
/// Bulk reads of a transformed view score rows in batches through a cursor that reads ahead; the scores are those of
/// row-by-row scoring, whatever the order the view is read in, and a bad row still fails at its own row.
/// </summary>
[TestFixture]
public class BatchedScoringTests
{
    public sealed class IndexedCloud
    {
        [VectorType(0, 2)] public float[] Points { get; set; } = [];
        public string Label { get; set; } = "";
        public int Index { get; set; }
    }

    private static IndexedCloud[] Clouds(int count, int seed) =>
        TestClouds.Make(count, seed).Select((c, i) => new IndexedCloud { Points = c.Points, Label = c.Label, Index = i }).ToArray();

    private static (MLContext Ml, ITransformer Model, LieConvMulticlassTransformer LieConv) Train()
    {
        var ml = new MLContext(seed: 1);
        var model = TestClouds.Pipeline(ml, TestClouds.Tiny(epochs: 1)).Fit(ml.Data.LoadFromEnumerable(Clouds(24, 3)));
        return (ml, model, ((IEnumerable<ITransformer>)model).OfType<LieConvMulticlassTransformer>().Single());
    }

    private sealed class Scored
    {
        public float[] Score { get; set; } = [];
        public string PredictedLabel { get; set; } = "";
        public int Index { get; set; }
    }

    private static void AssertSameAsRowByRow(MLContext ml, ITransformer model, IndexedCloud[] clouds, IEnumerable<Scored> scored)
    {
        var engine = ml.Model.CreatePredictionEngine<IndexedCloud, Scored>(model);
        int count = 0;
        foreach (var row in scored)
        {
            var alone = engine.Predict(clouds[row.Index]);
            // Batches pad the clouds to the largest: the same network, rounded differently.
            Assert.That(row.Score, Is.EqualTo(alone.Score).Within(1e-5f), $"cloud {row.Index}");
            Assert.That(row.PredictedLabel, Is.EqualTo(alone.PredictedLabel), $"cloud {row.Index}");
            count++;
        }
        Assert.That(count, Is.EqualTo(clouds.Length));
    }

    [Test]
    public void TransformScoresInBatches_AsRowByRowScoring()
    {
        var (ml, model, lieConv) = Train();
        var clouds = Clouds(70, 21);   // clouds of 8 to 12 points: batches of 32, 32 and 6, padded
        long before = lieConv.NetworkCalls;
        var scored = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(clouds)), reuseRowObject: false).ToList();
        Assert.That(lieConv.NetworkCalls - before, Is.EqualTo(3), "70 rows in batches of at most 32");
        before = lieConv.NetworkCalls;
        AssertSameAsRowByRow(ml, model, clouds, scored);
        Assert.That(lieConv.NetworkCalls - before, Is.EqualTo(70), "a prediction engine scores row by row");
    }

    [Test]
    public void ACursorThatMeetsRowsInAnotherOrder_GetsEveryRowsOwnScores()
    {
        var (ml, model, lieConv) = Train();
        var clouds = Clouds(50, 22);
        // A cursor given its own random order shuffles the rows it reads from the shuffled view below; the cursor
        // that reads ahead of it, opened without one, meets them in the view's own order.
        var scored = model.Transform(ml.Data.ShuffleRows(ml.Data.LoadFromEnumerable(clouds), seed: 7));
        long before = lieConv.NetworkCalls;
        var rows = new List<Scored>();
        using (var cursor = scored.GetRowCursor(scored.Schema, new Random(5)))
        {
            var score = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
            var label = cursor.GetGetter<ReadOnlyMemory<char>>(scored.Schema["PredictedLabel"]);
            var index = cursor.GetGetter<int>(scored.Schema["Index"]);
            VBuffer<float> s = default;
            ReadOnlyMemory<char> l = default;
            int i = 0;
            while (cursor.MoveNext())
            {
                score(ref s);
                label(ref l);
                index(ref i);
                rows.Add(new Scored { Score = s.DenseValues().ToArray(), PredictedLabel = l.ToString(), Index = i });
            }
        }
        long calls = lieConv.NetworkCalls - before;
        Assert.That(calls, Is.GreaterThan(2), "scoring fell back to row by row once the orders differed");
        AssertSameAsRowByRow(ml, model, clouds, rows);
    }

    [Test]
    public void ABadRowInsideABatch_FailsAtItsOwnRow()
    {
        var (ml, model, _) = Train();
        var clouds = Clouds(50, 23);
        clouds[40].Points[3] = float.NaN;
        var scored = model.Transform(ml.Data.LoadFromEnumerable(clouds));
        int read = 0;
        using var cursor = scored.GetRowCursor(scored.Schema);
        var score = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        var error = Assert.Catch(() =>
        {
            VBuffer<float> s = default;
            while (cursor.MoveNext())
            {
                score(ref s);
                read++;
            }
        });
        // ML.NET may read the view on a worker of its own, which wraps the error; the cause is the row's own.
        var cause = error as InvalidDataException ?? error!.InnerException as InvalidDataException;
        Assert.That(cause, Is.Not.Null, error!.ToString());
        Assert.That(cause!.Message, Does.StartWith("Column 'Points', row 40: point 1 has the non-finite value NaN"));
        // (Which rows a worker had read before it failed is ML.NET's business; the batch ends before the bad row by construction.)
        Assert.That(read, Is.LessThanOrEqualTo(40));
    }
}
