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
/// Trains a <see cref="LieResNet"/> to classify point clouds (mlnet-conventions.md §3, §5). Create it with
/// <c>mlContext.MulticlassClassification.Trainers.LieConv(...)</c>; the label must be a key column
/// (use <c>MapValueToKey</c>).
/// </summary>
/// <remarks>
/// This first version reads the whole training set into memory once, so it suits data sets that fit there.
/// </remarks>
public sealed class LieConvMulticlassTrainer : IEstimator<LieConvMulticlassTransformer>
{
    /// <summary>Settings of <see cref="LieConvMulticlassTrainer"/>.</summary>
    public sealed class Options
    {
        /// <summary>The key column holding the class of each cloud.</summary>
        public string LabelColumnName = DefaultColumnNames.Label;

        /// <summary>The coordinates column, <c>VectorType(0, d)</c>.</summary>
        public string PointsColumnName = "Points";

        /// <summary>The per-point features column, or <see langword="null"/> to give every point the feature 1.</summary>
        public string? FeaturesColumnName;

        /// <summary>The output column of per-class scores.</summary>
        public string ScoreColumnName = DefaultColumnNames.Score;

        /// <summary>The output key column of the predicted class.</summary>
        public string PredictedLabelColumnName = DefaultColumnNames.PredictedLabel;

        /// <summary>The symmetry group spec, e.g. <c>T(2)</c> or <c>SE2</c>.</summary>
        public string Group = "T(2)";

        /// <summary>Width of every stage of the network.</summary>
        public int Channels = 32;

        /// <summary>Number of bottleneck blocks.</summary>
        public int Layers = 2;

        /// <summary>Neighbours per query point.</summary>
        public int Neighbourhood = 16;

        /// <summary>Target ball fill fraction of every layer.</summary>
        public double Fill = 1.0 / 3;

        /// <summary>Fraction of points each block keeps.</summary>
        public double Downsample = 1;

        /// <summary>Group elements per input point.</summary>
        public int LiftSamples = 1;

        /// <summary>k-nearest-neighbour neighbourhoods instead of random subsets of balls.</summary>
        public bool Knn;

        /// <summary>Masked batch norm in the blocks and kernel networks.</summary>
        public bool BatchNorm = true;

        /// <summary>Average (rather than sum) over neighbours and in the global pool.</summary>
        public bool Mean = true;

        /// <summary>Number of passes over the training data.</summary>
        public int Epochs = 3;

        /// <summary>Clouds per optimiser step.</summary>
        public int BatchSize = 16;

        /// <summary>Adam's base learning rate (cosine schedule over the epochs).</summary>
        public double LearningRate = 3e-3;

        /// <summary>The seed of weights, shuffling and sampling; <see langword="null"/> takes the MLContext's seed, or 1.</summary>
        public int? Seed;

        /// <summary>libtorch's intra-op thread count (process-wide); <see langword="null"/> leaves it as it is.</summary>
        public int? NumberOfThreads;

        /// <summary>Checked before every batch; cancelling makes <c>Fit</c> throw <see cref="OperationCanceledException"/>.</summary>
        public CancellationToken CancellationToken;
    }

    internal const string LoadName = "LieConvMulticlass";

    private readonly IHost _host;
    private readonly Options _options;

    internal LieConvMulticlassTrainer(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        _host = env.Register(LoadName);
        _options = options;
        _host.CheckUserArg(!string.IsNullOrEmpty(options.LabelColumnName), nameof(options.LabelColumnName));
        _host.CheckUserArg(!string.IsNullOrEmpty(options.PointsColumnName), nameof(options.PointsColumnName));
        _host.CheckUserArg(!string.IsNullOrEmpty(options.ScoreColumnName), nameof(options.ScoreColumnName));
        _host.CheckUserArg(!string.IsNullOrEmpty(options.PredictedLabelColumnName), nameof(options.PredictedLabelColumnName));
        _host.CheckUserArg(options.Epochs >= 1, nameof(options.Epochs), "At least one epoch is needed.");
        _host.CheckUserArg(options.BatchSize >= 1, nameof(options.BatchSize), "At least one cloud per batch is needed.");
        _host.CheckUserArg(options.NumberOfThreads is null or >= 1, nameof(options.NumberOfThreads), "At least one thread is needed.");
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        CheckVector(inputSchema, _options.PointsColumnName, "points");
        if (_options.FeaturesColumnName is not null)
            CheckVector(inputSchema, _options.FeaturesColumnName, "features");
        if (!inputSchema.TryFindColumn(_options.LabelColumnName, out var label))
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "label", _options.LabelColumnName);
        if (!label.IsKey)
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "label", _options.LabelColumnName, "key", label.GetTypeString());

        var columns = inputSchema.ToDictionary(c => c.Name);
        var scoreAnnotations = new List<SchemaShape.Column>
        {
            new(AnnotationUtils.Kinds.ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            new(AnnotationUtils.Kinds.ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            new(AnnotationUtils.Kinds.ScoreColumnSetId, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true),
        };
        var predictedAnnotations = new List<SchemaShape.Column>();
        if (label.Annotations.TryFindColumn(AnnotationUtils.Kinds.KeyValues, out var keyValues))
        {
            scoreAnnotations.Add(new(AnnotationUtils.Kinds.SlotNames, SchemaShape.Column.VectorKind.Vector, keyValues.ItemType, false));
            scoreAnnotations.Add(new(AnnotationUtils.Kinds.TrainingLabelValues, SchemaShape.Column.VectorKind.Vector, keyValues.ItemType, false));
            predictedAnnotations.Add(keyValues);
        }
        columns[_options.ScoreColumnName] = new SchemaShape.Column(_options.ScoreColumnName, SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, false, new SchemaShape(scoreAnnotations));
        columns[_options.PredictedLabelColumnName] = new SchemaShape.Column(_options.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, true, new SchemaShape(predictedAnnotations));
        return new SchemaShape(columns.Values);
    }

    /// <summary>Trains the network on <paramref name="input"/> and returns the fitted transformer.</summary>
    /// <param name="input">Clouds with the points, optional features and key label columns named in the options.</param>
    /// <exception cref="InvalidOperationException">A column is missing or has the wrong type, or there are no rows.</exception>
    /// <exception cref="InvalidDataException">A row is malformed (see <see cref="PointCloudReader"/>).</exception>
    public LieConvMulticlassTransformer Fit(IDataView input)
    {
        _host.CheckValue(input, nameof(input));
        GetOutputSchema(SchemaShape.Create(input.Schema));
        var reader = new PointCloudReader(input.Schema,
            new PointCloudColumns(_options.PointsColumnName, _options.FeaturesColumnName, _options.LabelColumnName),
            PointCloudLabelKind.Key);
        if (reader.ClassCount < 1)
            throw new InvalidOperationException($"Label column '{_options.LabelColumnName}' has no classes; expected a key with a known count (MapValueToKey).");

        int seed = _options.Seed ?? _host.GetSeed() ?? 1;
        if (_options.NumberOfThreads is int threads)
            TorchRuntime.SetThreadCount(threads);

        // One row per item so that every epoch can regroup the clouds into new batches after shuffling.
        var rows = reader.ReadBatches(input, 1).ToList();
        if (rows.Count == 0)
            throw new InvalidOperationException("The training data has no rows.");
        int channels = rows[0].Channels;

        var labelColumn = input.Schema[_options.LabelColumnName];
        var spec = new LieResNetOptions
        {
            Group = _options.Group,
            InputChannels = channels,
            Outputs = reader.ClassCount,
            Channels = _options.Channels,
            Layers = _options.Layers,
            Neighbourhood = _options.Neighbourhood,
            Fill = _options.Fill,
            Downsample = _options.Downsample,
            LiftSamples = _options.LiftSamples,
            Knn = _options.Knn,
            BatchNorm = _options.BatchNorm,
            Mean = _options.Mean,
        };
        spec.Validate();

        TorchRuntime.SeedEverything(seed);
        var model = new LieResNet(spec);
        try
        {
            using (var ch = _host.Start("Training"))
            {
                var source = new ShuffledRows(rows, _options.BatchSize, seed);
                var trainerOptions = new TrainerOptions
                {
                    Epochs = _options.Epochs,
                    LearningRate = _options.LearningRate,
                    Seed = seed,
                    ReportEvery = 0,
                };
                using var trainer = new Trainer<(PointCloudBatch Batch, Tensor Labels)>(
                    model,
                    b =>
                    {
                        _host.CheckAlive();
                        var logits = model.forward(b.Batch);
                        return new BatchOutput(logits, Losses.CrossEntropy(logits, b.Labels));
                    },
                    source,
                    trainerOptions);
                // The trainer reports synchronously on this thread, so the channel is used from one thread only.
                var progress = new SynchronousProgress(p =>
                {
                    if (p.Kind == ProgressKind.EpochEnd)
                        ch.Info("Epoch {0}/{1}: loss {2:G6}, learning rate {3:G4}", p.Epoch + 1, p.Epochs, p.Loss, p.LearningRate);
                });
                trainer.Fit(progress, _options.CancellationToken);
            }
            model.eval();
            return new LieConvMulticlassTransformer(_host, model, channels, reader.SpaceDimension,
                _options.PointsColumnName, _options.FeaturesColumnName, _options.ScoreColumnName, _options.PredictedLabelColumnName,
                LabelValues.From(labelColumn));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private void CheckVector(SchemaShape schema, string name, string role)
    {
        if (!schema.TryFindColumn(name, out var col))
            throw _host.ExceptSchemaMismatch(nameof(schema), role, name);
        if (col.Kind == SchemaShape.Column.VectorKind.Scalar || col.ItemType != NumberDataViewType.Single)
            throw _host.ExceptSchemaMismatch(nameof(schema), role, name, "vector of Single", col.GetTypeString());
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
            var labels = new long[group.Length];
            for (int j = 0; j < group.Length; j++)
            {
                var row = rows[group[j]];
                int n = row.PointCounts[0];
                Array.Copy(row.Coordinates, 0, coordinates, j * nMax * d, n * d);
                Array.Copy(row.Features, 0, features, j * nMax * c, n * c);
                Array.Fill(mask, true, j * nMax, n);
                labels[j] = row.Classes![0];
            }
            long b = group.Length;
            return (new PointCloudBatch(
                    tensor(coordinates, new[] { b, nMax, (long)d }),
                    tensor(features, new[] { b, nMax, (long)c }),
                    tensor(mask, new[] { b, (long)nMax })),
                tensor(labels, new[] { b }));
        }
    }
}
