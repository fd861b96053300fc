using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using LieConv.MLNet.Data;
using LieConv.Models;
using LieConv.Training;

namespace LieConv.MLNet;

/// <summary>
/// What a checkpoint folder was written for: the task, the network, the settings that shape the run and a hash of
/// the training data. The Core trainer checks epochs, steps per epoch and learning rate on resume, but resuming on
/// other data or with another seed would continue a different run without a word; this file makes that an error.
/// </summary>
internal static class RunFingerprint
{
    /// <summary>The file beside the checkpoint.</summary>
    public const string FileName = "lieconv-run.txt";

    /// <summary>The fingerprint text of a run: one "key: value" line per setting, then the data's SHA-256.</summary>
    public static string Of(LieConvTask task, LieResNetOptions spec, LieConvTrainerOptionsBase options, int seed, IReadOnlyList<PointCloudRows> rows)
    {
        var text = new StringBuilder();
        void Line(string key, object? value) => text.Append(key).Append(": ").Append(Convert.ToString(value, CultureInfo.InvariantCulture)).Append('\n');
        Line("task", task.Name);
        Line("outputs", task.Outputs);
        Line("group", spec.Group);
        Line("input channels", spec.InputChannels);
        Line("widths", string.Join(",", spec.StageWidths));
        Line("fills", string.Join(",", spec.LayerFills.Select(f => f.ToString("R", CultureInfo.InvariantCulture))));
        Line("neighbourhood", spec.Neighbourhood);
        Line("downsample", spec.Downsample.ToString("R", CultureInfo.InvariantCulture));
        Line("lift samples", spec.LiftSamples);
        Line("knn, batch norm, mean, activation", $"{spec.Knn}, {spec.BatchNorm}, {spec.Mean}, {spec.Activation}");
        Line("seed", seed);
        Line("epochs", options.Epochs);
        Line("batch size", options.BatchSize);
        Line("learning rate", options.LearningRate.ToString("R", CultureInfo.InvariantCulture));
        Line("warm-up", options.WarmupFraction.ToString("R", CultureInfo.InvariantCulture));
        Line("weight decay", options.WeightDecay.ToString("R", CultureInfo.InvariantCulture));
        Line("augmentation", options.Augmentation);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var row in rows)
        {
            hash.AppendData(MemoryMarshal.AsBytes(row.PointCounts.AsSpan()));
            hash.AppendData(MemoryMarshal.AsBytes(row.Coordinates.AsSpan()));
            hash.AppendData(MemoryMarshal.AsBytes(row.Features.AsSpan()));
            if (row.Classes is { } classes) hash.AppendData(MemoryMarshal.AsBytes(classes.AsSpan()));
            if (row.Targets is { } targets) hash.AppendData(MemoryMarshal.AsBytes(targets.AsSpan()));
        }
        Line("training clouds", rows.Count);
        Line("training data sha256", Convert.ToHexString(hash.GetHashAndReset()));
        return text.ToString();
    }

    /// <summary>
    /// Before a fresh run, records <paramref name="fingerprint"/> in <paramref name="folder"/>; before a resumed run,
    /// checks that the folder's checkpoint was written for the same run.
    /// </summary>
    /// <exception cref="InvalidOperationException">Resuming a checkpoint of another run (or of unknown origin).</exception>
    public static void Check(string folder, string fingerprint, bool resuming)
    {
        string path = Path.Combine(Path.GetFullPath(folder), FileName);
        if (!resuming)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            AtomicFile.Write(path, stream => stream.Write(Encoding.UTF8.GetBytes(fingerprint)));
            return;
        }
        string? stored = File.Exists(path) ? File.ReadAllText(path, Encoding.UTF8) : null;
        if (stored == fingerprint)
            return;
        string difference = stored is null
            ? $"it has no {FileName}, so it was not written by a LieConv ML.NET trainer"
            : "it differs in: " + string.Join("; ", Differences(stored, fingerprint));
        throw new InvalidOperationException(
            $"The checkpoint in {Path.GetDirectoryName(path)} belongs to another run ({difference}); resuming it would continue " +
            "a different training. Use the same data and settings, or another CheckpointDirectory (or set ResumeFromCheckpoint = false to start afresh).");
    }

    private static IEnumerable<string> Differences(string stored, string current)
    {
        var before = Parse(stored);
        foreach (var (key, value) in Parse(current))
        {
            if (!before.TryGetValue(key, out var old))
                yield return $"{key} (new: {value})";
            else if (old != value)
                yield return $"{key} ({old} then, {value} now)";
        }
    }

    private static Dictionary<string, string> Parse(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(line => line.Split(": ", 2))
        .Where(parts => parts.Length == 2)
        .GroupBy(parts => parts[0])
        .ToDictionary(g => g.Key, g => g.Last()[1]);
}
