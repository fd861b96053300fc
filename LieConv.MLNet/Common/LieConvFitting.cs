using LieConv.Groups;
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

/// <summary>What distinguishes one LieConv trainer from another: the label, the outputs, the loss and the metrics.</summary>
/// <param name="Name">Names the task in messages, e.g. "multiclass".</param>
/// <param name="LabelKind">The label column the task reads.</param>
/// <param name="Outputs">The network's outputs per cloud.</param>
/// <param name="Loss">(network output, batch labels) → the 0-dimensional training loss.</param>
/// <param name="Metrics">Validation metrics by name: (network output, batch labels) → the batch mean.</param>
internal sealed record LieConvTask(
    string Name,
    PointCloudLabelKind LabelKind,
    int Outputs,
    Func<Tensor, Tensor, Tensor> Loss,
    IReadOnlyList<(string Name, Func<Tensor, Tensor, Tensor> Compute)> Metrics);

/// <summary>A trained network with the device it lives on.</summary>
internal sealed record LieConvFit(LieResNet Model, Device Device, TrainingResult Result);

/// <summary>
/// What every LieConv trainer does the same way: checking its options and input columns, reading the data, and
/// building and training the <see cref="LieResNet"/> with the <see cref="Trainer{TBatch}"/> of LieConv.Core.
/// </summary>
internal static class LieConvFitting
{
    /// <summary>Checks the shared options, throwing ML.NET's user-argument errors that name the option.</summary>
    public static void CheckOptions(IHost host, LieConvTrainerOptionsBase options, IReadOnlyList<string> metricNames)
    {
        host.CheckUserArg(!string.IsNullOrEmpty(options.LabelColumnName), nameof(options.LabelColumnName));
        host.CheckUserArg(!string.IsNullOrEmpty(options.PointsColumnName), nameof(options.PointsColumnName));
        host.CheckUserArg(!string.IsNullOrEmpty(options.ScoreColumnName), nameof(options.ScoreColumnName));
        host.CheckUserArg(options.CoordinateDimension is null or >= 1, nameof(options.CoordinateDimension), "d must be at least 1.");
        host.CheckUserArg(options.MaxPoints is null or >= 1, nameof(options.MaxPoints), "At least one point must be allowed.");
        host.CheckUserArg(!string.IsNullOrWhiteSpace(options.Group), nameof(options.Group), "A group spec such as \"T(2)\" or \"SE2(.05)\" is needed.");
        try
        {
            LieGroup.Parse(options.Group);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw host.ExceptUserArg(nameof(options.Group), e.Message);
        }
        host.CheckUserArg(options.Channels >= 1, nameof(options.Channels), "At least one channel is needed.");
        host.CheckUserArg(options.Layers >= 1, nameof(options.Layers), "At least one layer is needed.");
        host.CheckUserArg(options.Neighbourhood >= 1, nameof(options.Neighbourhood), "At least one neighbour is needed.");
        host.CheckUserArg(options.Fill is > 0 and <= 1, nameof(options.Fill), "The fill must lie in (0, 1].");
        host.CheckUserArg(options.TotalDownsampling is > 0 and <= 1, nameof(options.TotalDownsampling), "The fraction of points kept must lie in (0, 1].");
        host.CheckUserArg(options.LiftSamples >= 1, nameof(options.LiftSamples), "At least one lift sample is needed.");
        host.CheckUserArg(Enum.IsDefined(options.Activation), nameof(options.Activation), "Unknown activation.");
        host.CheckUserArg(Enum.IsDefined(options.Augmentation), nameof(options.Augmentation), "Unknown augmentation.");
        LieConvTraining.CheckOptions(host, options, metricNames, "cloud");
    }

    /// <summary>Checks the points and features columns and returns the label column's shape.</summary>
    public static SchemaShape.Column CheckInputs(IHost host, SchemaShape schema, LieConvTrainerOptionsBase options)
    {
        SchemaChecks.SingleVector(host, schema, options.PointsColumnName, "points");
        if (options.FeaturesColumnName is not null)
            SchemaChecks.SingleVector(host, schema, options.FeaturesColumnName, "features");
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
        => new(schema, new PointCloudColumns(options.PointsColumnName, options.FeaturesColumnName, options.LabelColumnName,
            options.CoordinateDimension, options.MaxPoints), labelKind);

    /// <summary>Reads a whole data set, one cloud per item.</summary>
    /// <param name="reader">Bound to <paramref name="input"/>'s schema.</param>
    /// <param name="input">The rows.</param>
    /// <param name="role">"training" or "validation", for messages.</param>
    /// <exception cref="InvalidOperationException">There are no rows.</exception>
    public static List<PointCloudRows> ReadRows(PointCloudReader reader, IDataView input, string role = "training")
    {
        // One row per item so that every epoch can regroup the clouds into new batches after shuffling; the rows are
        // compact float arrays (about 4·N·(d + c) bytes per cloud), read once rather than once per epoch.
        var rows = reader.ReadBatches(input, 1).ToList();
        if (rows.Count == 0)
            throw new InvalidOperationException($"The {role} data has no rows.");
        return rows;
    }

    /// <summary>
    /// Reads the validation set of <paramref name="options"/>, if any, and checks that it matches the training data
    /// (coordinate dimension, features per point and, for classes, the number of classes).
    /// </summary>
    public static List<PointCloudRows>? ReadValidation(LieConvTrainerOptionsBase options, PointCloudReader training, List<PointCloudRows> trainingRows)
    {
        if (options.ValidationSet is not { } data)
            return null;
        var reader = Reader(data.Schema, options, training.LabelKind);
        if (reader.SpaceDimension != training.SpaceDimension)
            throw new InvalidOperationException($"The validation set's column '{options.PointsColumnName}' has d = {reader.SpaceDimension}; expected d = {training.SpaceDimension} as in the training data.");
        if (reader.LabelKind == PointCloudLabelKind.Key && reader.ClassCount != training.ClassCount)
            throw new InvalidOperationException($"The validation set's label column '{options.LabelColumnName}' has {reader.ClassCount} classes; expected {training.ClassCount} as in the training data (build both with the same MapValueToKey).");
        var rows = ReadRows(reader, data, "validation");
        int c = trainingRows[0].Channels;
        int bad = rows.FindIndex(r => r.Channels != c);
        if (bad >= 0)
            throw new InvalidDataException($"Column '{options.FeaturesColumnName}', validation row {bad}: has {rows[bad].Channels} features per point; expected {c} as in the training data.");
        return rows;
    }

    /// <summary>The network the options describe for clouds with <paramref name="inputChannels"/> features per point.</summary>
    public static LieResNetOptions NetworkOptions(LieConvTrainerOptionsBase options, int inputChannels, int outputs)
    {
        double ds = Math.Pow(options.TotalDownsampling, 1.0 / options.Layers);
        var spec = new LieResNetOptions
        {
            Group = options.Group,
            InputChannels = inputChannels,
            Outputs = outputs,
            Channels = options.Channels,
            // The image recipe's schedule (reference §3.5): wider stages and larger balls as points are dropped.
            ChannelsPerStage = options.IncreaseChannels
                ? Enumerable.Range(0, options.Layers + 1).Select(i => (int)Math.Floor(options.Channels / Math.Pow(ds, i / 2.0))).ToArray()
                : null,
            FillPerLayer = ds < 1 ? Enumerable.Range(0, options.Layers).Select(i => options.Fill / Math.Pow(ds, i)).ToArray() : null,
            Layers = options.Layers,
            Neighbourhood = options.Neighbourhood,
            Fill = options.Fill,
            Downsample = ds,
            LiftSamples = options.LiftSamples,
            Knn = options.Knn,
            BatchNorm = options.BatchNorm,
            Mean = options.Mean,
            Activation = options.Activation,
        };
        spec.Validate();
        return spec;
    }

    /// <summary>
    /// The device to train on: the options' <see cref="LieConvTrainingOptionsBase.Device"/>, else the MLContext's GPU
    /// settings (mlnet-conventions.md §10), else the CPU.
    /// </summary>
    public static Device ResolveDevice(IHost host, string? requested)
    {
        if (requested is not null)
        {
            try
            {
                return TorchRuntime.ResolveDevice(requested);
            }
            catch (ArgumentException e)
            {
                throw host.ExceptUserArg(nameof(LieConvTrainerOptionsBase.Device), e.Message);
            }
        }
        return host.ResolveContextDevice();
    }

    /// <summary>
    /// Builds the network for <paramref name="task"/> and trains it on <paramref name="rows"/>, validating on
    /// <paramref name="validation"/> after every epoch when given. Returns the network in evaluation mode.
    /// </summary>
    public static LieConvFit Train(IHost host, LieConvTrainerOptionsBase options, LieConvTask task,
        List<PointCloudRows> rows, List<PointCloudRows>? validation)
    {
        int seed = LieConvTraining.SeedAndThreads(host, options);
        int d = rows[0].SpaceDimension;
        if (PointCloudAugmentations.RequiredDimension(options.Augmentation) is int needed && needed != d)
            throw host.ExceptUserArg(nameof(options.Augmentation), $"{options.Augmentation} augmentation needs d = {needed}; the points column '{options.PointsColumnName}' has d = {d}.");
        var spec = NetworkOptions(options, rows[0].Channels, task.Outputs);
        var group = LieGroup.Parse(spec.Group);
        if (group.SpaceDim != d)
            throw host.ExceptUserArg(nameof(options.Group), $"{spec.Group} acts on {group.SpaceDim}-dimensional points; the points column '{options.PointsColumnName}' has d = {d}.");
        var device = ResolveDevice(host, options.Device);

        TorchRuntime.SeedEverything(seed);
        var model = new LieResNet(spec);
        try
        {
            using var ch = host.Start("Training");
            ch.Info("LieConv {0}: {1} training clouds{2}, {3}, {4} parameters, on {5}.", task.Name, rows.Count,
                validation is null ? "" : $", {validation.Count} validation clouds", spec.Group,
                model.parameters().Sum(p => p.numel()), device);
            MklKernelsNote.Report(ch, device);
            var augmentation = options.Augmentation;
            var metrics = validation is null
                ? null
                : task.Metrics.Select(m => new TrainingMetric<LabelledBatch>(m.Name, (b, o) => m.Compute(o.Prediction, b.Labels))).ToArray();
            using var trainer = new Trainer<LabelledBatch>(
                model,
                b =>
                {
                    host.CheckAlive();
                    var batch = b.Batch;
                    if (model.training && augmentation != PointCloudAugmentation.None)
                        batch = batch with { Coordinates = PointCloudAugmentations.Apply(augmentation, batch.Coordinates) };
                    var output = model.forward(batch);
                    return new BatchOutput(output, task.Loss(output, b.Labels));
                },
                new ShuffledRows(rows, options.BatchSize, seed, device),
                LieConvTraining.TrainerOptions(options, device, seed),
                validation is null ? null : new ShuffledRows(validation, options.BatchSize, null, device),
                metrics);

            var result = LieConvTraining.Run(ch, trainer, options, "clouds", resume =>
            {
                if (options.CheckpointDirectory is string folder)
                    RunFingerprint.Check(folder, RunFingerprint.Of(task, spec, options, seed, rows), resume);
            });
            model.eval();
            return new LieConvFit(model, device, result);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A padded batch of clouds with their labels (int64 classes or float32 targets).</summary>
    internal readonly record struct LabelledBatch(PointCloudBatch Batch, Tensor Labels);

    /// <summary>
    /// Regroups single-cloud rows into padded batches, in a new order every epoch when a seed is given (the order
    /// depends only on (seed, epoch), as <see cref="IBatchSource{TBatch}"/> requires) and in row order otherwise.
    /// </summary>
    private sealed class ShuffledRows(List<PointCloudRows> rows, int batchSize, int? seed, Device device) : IBatchSource<LabelledBatch>
    {
        public int BatchesPerEpoch => (rows.Count + batchSize - 1) / batchSize;

        public IEnumerable<LabelledBatch> Batches(int epoch)
        {
            var order = Enumerable.Range(0, rows.Count).ToArray();
            if (seed is int s)
                TorchRuntime.CreateRandom(s, $"shuffle{epoch}").Shuffle(order);
            for (int start = 0; start < order.Length; start += batchSize)
                yield return Collate(order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray());
        }

        private LabelledBatch Collate(int[] group)
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
            // Built on the host and copied once per batch (without waiting for the GPU); a no-op on the CPU.
            return new LabelledBatch(
                new PointCloudBatch(
                    TorchRuntime.Upload(tensor(coordinates, new[] { b, nMax, (long)d }), device),
                    TorchRuntime.Upload(tensor(features, new[] { b, nMax, (long)c }), device),
                    TorchRuntime.Upload(tensor(mask, new[] { b, (long)nMax }), device)),
                TorchRuntime.Upload(classes ? tensor(classLabels, new[] { b }) : tensor(targets, new[] { b }), device));
        }
    }
}
