using LieConv.MLNet.Data;
using LieConv.MLNet.MlNet;
using LieConv.Models;
using LieConv.Runtime;
using LieConv.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace LieConv.MLNet;

/// <summary>
/// What every LieConv trainer does the same way: checking its options and input columns, reading the training set,
/// and building and training the <see cref="LieResNet"/>; the trainers differ only in the label and the loss.
/// </summary>
internal static class LieConvFitting
{
    /// <summary>Checks the shared options, throwing ML.NET's user-argument errors.</summary>
    public static void CheckOptions(IHost host, LieConvTrainerOptionsBase options)
    {
        host.CheckUserArg(!string.IsNullOrEmpty(options.LabelColumnName), nameof(options.LabelColumnName));
        host.CheckUserArg(!string.IsNullOrEmpty(options.PointsColumnName), nameof(options.PointsColumnName));
        host.CheckUserArg(!string.IsNullOrEmpty(options.ScoreColumnName), nameof(options.ScoreColumnName));
        host.CheckUserArg(options.Epochs >= 1, nameof(options.Epochs), "At least one epoch is needed.");
        host.CheckUserArg(options.BatchSize >= 1, nameof(options.BatchSize), "At least one cloud per batch is needed.");
        host.CheckUserArg(options.NumberOfThreads is null or >= 1, nameof(options.NumberOfThreads), "At least one thread is needed.");
    }

    /// <summary>Checks the points and features columns and returns the label column's shape.</summary>
    public static SchemaShape.Column CheckInputs(IHost host, SchemaShape schema, LieConvTrainerOptionsBase options)
    {
        CheckVector(host, schema, options.PointsColumnName, "points");
        if (options.FeaturesColumnName is not null)
            CheckVector(host, schema, options.FeaturesColumnName, "features");
        if (!schema.TryFindColumn(options.LabelColumnName, out var label))
            throw host.ExceptSchemaMismatch(nameof(schema), "label", options.LabelColumnName);
        return label;
    }

    /// <summary>The annotations every score column carries, so that evaluators find it (mlnet-conventions.md §5).</summary>
    public static List<SchemaShape.Column> ScoreAnnotationShapes() =>
    [
        new(AnnotationUtils.Kinds.ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
        new(AnnotationUtils.Kinds.ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
        new(AnnotationUtils.Kinds.ScoreColumnSetId, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true),
    ];

    /// <summary>A reader of the options' columns that requires a label of <paramref name="labelKind"/>.</summary>
    public static PointCloudReader Reader(DataViewSchema schema, LieConvTrainerOptionsBase options, PointCloudLabelKind labelKind)
        => new(schema, new PointCloudColumns(options.PointsColumnName, options.FeaturesColumnName, options.LabelColumnName), labelKind);

    /// <summary>Reads the whole training set, one cloud per item.</summary>
    /// <exception cref="InvalidOperationException">There are no rows.</exception>
    public static List<PointCloudRows> ReadRows(PointCloudReader reader, IDataView input)
    {
        // One row per item so that every epoch can regroup the clouds into new batches after shuffling.
        var rows = reader.ReadBatches(input, 1).ToList();
        if (rows.Count == 0)
            throw new InvalidOperationException("The training data has no rows.");
        return rows;
    }

    /// <summary>
    /// Builds a network with <paramref name="outputs"/> outputs and trains it on <paramref name="rows"/> with
    /// <paramref name="loss"/>(network output, batch labels); the labels are int64 classes or float32 targets,
    /// as <see cref="PointCloudRows.LabelsTensor"/> makes them. Returns the network in evaluation mode.
    /// </summary>
    public static LieResNet Train(IHost host, LieConvTrainerOptionsBase options, List<PointCloudRows> rows, int outputs,
        Func<Tensor, Tensor, Tensor> loss)
    {
        int seed = options.Seed ?? host.GetSeed() ?? 1;
        if (options.NumberOfThreads is int threads)
            TorchRuntime.SetThreadCount(threads);

        var spec = new LieResNetOptions
        {
            Group = options.Group,
            InputChannels = rows[0].Channels,
            Outputs = outputs,
            Channels = options.Channels,
            Layers = options.Layers,
            Neighbourhood = options.Neighbourhood,
            Fill = options.Fill,
            Downsample = options.Downsample,
            LiftSamples = options.LiftSamples,
            Knn = options.Knn,
            BatchNorm = options.BatchNorm,
            Mean = options.Mean,
        };
        spec.Validate();

        TorchRuntime.SeedEverything(seed);
        var model = new LieResNet(spec);
        try
        {
            using (var ch = host.Start("Training"))
            {
                var source = new ShuffledRows(rows, options.BatchSize, seed);
                var trainerOptions = new TrainerOptions
                {
                    Epochs = options.Epochs,
                    LearningRate = options.LearningRate,
                    Seed = seed,
                    ReportEvery = 0,
                };
                using var trainer = new Trainer<(PointCloudBatch Batch, Tensor Labels)>(
                    model,
                    b =>
                    {
                        host.CheckAlive();
                        var output = model.forward(b.Batch);
                        return new BatchOutput(output, loss(output, b.Labels));
                    },
                    source,
                    trainerOptions);
                // The trainer reports synchronously on this thread, so the channel is used from one thread only.
                var progress = new SynchronousProgress(p =>
                {
                    if (p.Kind == ProgressKind.EpochEnd)
                        ch.Info("Epoch {0}/{1}: loss {2:G6}, learning rate {3:G4}", p.Epoch + 1, p.Epochs, p.Loss, p.LearningRate);
                });
                trainer.Fit(progress, options.CancellationToken);
            }
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void CheckVector(IHost host, SchemaShape schema, string name, string role)
    {
        if (!schema.TryFindColumn(name, out var col))
            throw host.ExceptSchemaMismatch(nameof(schema), role, name);
        if (col.Kind == SchemaShape.Column.VectorKind.Scalar || col.ItemType != NumberDataViewType.Single)
            throw host.ExceptSchemaMismatch(nameof(schema), role, name, "vector of Single", col.GetTypeString());
    }

    /// <summary>
    /// <see cref="Progress{T}"/> posts to a synchronisation context; ML.NET channels must be called in order from the
    /// training thread, so this one calls back inline.
    /// </summary>
    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    /// <summary>
    /// Regroups single-cloud rows into padded batches in a new order every epoch; the order depends only on
    /// (seed, epoch), as <see cref="IBatchSource{TBatch}"/> requires.
    /// </summary>
    private sealed class ShuffledRows(List<PointCloudRows> rows, int batchSize, int seed) : IBatchSource<(PointCloudBatch Batch, Tensor Labels)>
    {
        public int BatchesPerEpoch => (rows.Count + batchSize - 1) / batchSize;

        public IEnumerable<(PointCloudBatch Batch, Tensor Labels)> Batches(int epoch)
        {
            var order = Enumerable.Range(0, rows.Count).ToArray();
            TorchRuntime.CreateRandom(seed, $"shuffle{epoch}").Shuffle(order);
            for (int start = 0; start < order.Length; start += batchSize)
            {
                var group = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
                yield return Collate(group);
            }
        }

        private (PointCloudBatch, Tensor) Collate(int[] group)
        {
            int d = rows[0].SpaceDimension, c = rows[0].Channels;
            int nMax = group.Max(i => rows[i].PointCounts[0]);
            var coordinates = new float[group.Length * nMax * d];
            var features = new float[group.Length * nMax * c];
            var mask = new bool[group.Length * nMax];
            bool classes = rows[0].LabelKind == PointCloudLabelKind.Key;
            var classLabels = new long[classes ? group.Length : 0];
            var targets = new float[classes ? 0 : group.Length];
            for (int j = 0; j < group.Length; j++)
            {
                var row = rows[group[j]];
                int n = row.PointCounts[0];
                Array.Copy(row.Coordinates, 0, coordinates, j * nMax * d, n * d);
                Array.Copy(row.Features, 0, features, j * nMax * c, n * c);
                Array.Fill(mask, true, j * nMax, n);
                if (classes)
                    classLabels[j] = row.Classes![0];
                else
                    targets[j] = row.Targets![0];
            }
            long b = group.Length;
            return (new PointCloudBatch(
                    tensor(coordinates, new[] { b, nMax, (long)d }),
                    tensor(features, new[] { b, nMax, (long)c }),
                    tensor(mask, new[] { b, (long)nMax })),
                classes ? tensor(classLabels, new[] { b }) : tensor(targets, new[] { b }));
        }
    }
}
