using LieConv.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Tests.Training;

/// <summary>A toy batch: inputs (B, d) and class labels (B) or targets.</summary>
internal sealed record ToyBatch(Tensor X, Tensor Y);

/// <summary>Toy data, a tiny MLP classifier and helpers shared by the training tests.</summary>
internal static class TrainingTestData
{
    /// <summary>
    /// Points in the plane labelled by their quadrant (0–3), drawn from a private generator so that the global one is untouched.
    /// </summary>
    public static (Tensor X, Tensor Y) Quadrants(int count, long seed)
    {
        using var generator = new Generator((ulong)seed);
        var x = rand(new long[] { count, 2 }, generator: generator) * 2 - 1;
        var y = (x.select(1, 0) < 0).to(ScalarType.Int64) + 2 * (x.select(1, 1) < 0).to(ScalarType.Int64);
        return (x, y);
    }

    /// <summary>2 → hidden → 4 with batch norm (buffers) and dropout (global RNG), so resumes must restore both.</summary>
    public static Sequential Mlp(long initSeed, int hidden = 16, double dropout = 0.1)
    {
        manual_seed(initSeed);
        return nn.Sequential(
            ("fc1", nn.Linear(2, hidden)),
            ("bn", nn.BatchNorm1d(hidden)),
            ("act", nn.ReLU()),
            ("drop", nn.Dropout(dropout)),
            ("fc2", nn.Linear(hidden, 4)));
    }

    public static IndexBatchSource<ToyBatch> Source(Tensor x, Tensor y, int batchSize, bool shuffle = true, long seed = 5, bool dropLast = false) =>
        new((int)x.shape[0], batchSize, indices =>
        {
            using var index = tensor(indices.Select(i => (long)i).ToArray());
            return new ToyBatch(x.index_select(0, index), y.index_select(0, index));
        }, shuffle, seed, dropLast);

    public static Func<ToyBatch, BatchOutput> Classifier(nn.Module<Tensor, Tensor> model) => batch =>
    {
        var logits = model.forward(batch.X);
        return new BatchOutput(logits, Losses.CrossEntropy(logits, batch.Y));
    };

    public static TrainingMetric<ToyBatch> Accuracy { get; } = new("Acc", (b, o) => Metrics.Accuracy(o.Prediction, b.Y));

    /// <summary>Every named tensor of the model's state (parameters and buffers), copied.</summary>
    public static Dictionary<string, Tensor> Snapshot(nn.Module model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    /// <summary>The model's parameters only (no buffers), copied.</summary>
    public static Dictionary<string, Tensor> ParameterSnapshot(nn.Module model) =>
        model.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter.detach().clone());

    public static bool SameState(IReadOnlyDictionary<string, Tensor> a, IReadOnlyDictionary<string, Tensor> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var other)
            && kv.Value.shape.SequenceEqual(other.shape) && (kv.Value == other).all().item<bool>());
}

/// <summary>Records progress reports synchronously and optionally reacts to them.</summary>
internal sealed class ProgressRecorder(Action<TrainingProgress>? onReport = null) : IProgress<TrainingProgress>
{
    public List<TrainingProgress> Reports { get; } = new();

    public void Report(TrainingProgress value)
    {
        Reports.Add(value);
        onReport?.Invoke(value);
    }
}

/// <summary>A fresh folder under the temp path, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lieconv-training-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A validation source of one fixed batch that remembers which epoch asked for it.</summary>
internal sealed class ScriptedValidation(ToyBatch batch) : IBatchSource<ToyBatch>
{
    public int Epoch { get; private set; } = -1;

    public List<int> EpochsSeen { get; } = new();

    public int BatchesPerEpoch => 1;

    public IEnumerable<ToyBatch> Batches(int epoch)
    {
        Epoch = epoch;
        EpochsSeen.Add(epoch);
        yield return batch;
    }
}
