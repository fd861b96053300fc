using System.Security.Cryptography;
using System.Text;

namespace LieConv.Training;

/// <summary>
/// Everything needed to continue a run exactly where an epoch ended: model weights, Adam state, the position in the
/// run, the best weights and metric so far, the patience counter, the history and libtorch's CPU generator state.
/// </summary>
/// <remarks>
/// <para>File layout (little-endian): the 8 magic bytes "LCNTRAIN", an int32 format version, the int64 payload
/// length, the SHA-256 of the payload (32 bytes), then the payload. Reading checks all four, so a truncated or altered
/// file fails with a <see cref="CheckpointException"/> that names it instead of loading garbage weights.</para>
/// <para>Batch-source state is not stored: sources derive each epoch's order from (seed, epoch), see
/// <see cref="IBatchSource{TBatch}"/>. CUDA generator state is not stored either (GPU runs are not bitwise
/// reproducible anyway); a resumed CUDA run is statistically, not bitwise, the same.</para>
/// </remarks>
public sealed class TrainingCheckpoint
{
    /// <summary>The file name inside <see cref="TrainerOptions.CheckpointDirectory"/>.</summary>
    public const string FileName = "training.ckpt";

    /// <summary>The format version this build writes and reads.</summary>
    public const int FormatVersion = 1;

    private static ReadOnlySpan<byte> Magic => "LCNTRAIN"u8;
    private const int HashSize = 32;
    private const int HeaderSize = 8 + sizeof(int) + sizeof(long) + HashSize;

    /// <summary>The run's planned epochs (a resume must plan the same).</summary>
    public required int Epochs { get; init; }

    /// <summary>The training source's batches per epoch when the run started.</summary>
    public required int BatchesPerEpoch { get; init; }

    /// <summary>The run's base learning rate.</summary>
    public required double LearningRate { get; init; }

    /// <summary>Epochs completed; training continues with this (zero-based) epoch.</summary>
    public required int CompletedEpochs { get; init; }

    /// <summary>Optimiser steps completed.</summary>
    public required long GlobalStep { get; init; }

    /// <summary>The zero-based epoch with the best selection metric so far.</summary>
    public int? BestEpoch { get; init; }

    /// <summary>The best selection-metric value so far.</summary>
    public double? BestValue { get; init; }

    /// <summary>Consecutive validated epochs without improvement (the patience counter).</summary>
    public int EpochsSinceImprovement { get; init; }

    /// <summary>Whether the run ended early (a resume then only restores the best weights).</summary>
    public bool StoppedEarly { get; init; }

    /// <summary>One summary per completed epoch.</summary>
    public IReadOnlyList<EpochSummary> History { get; init; } = [];

    /// <summary>libtorch's CPU generator state (<c>torch.random.get_rng_state()</c>) after the last completed epoch.</summary>
    public required byte[] RngState { get; init; }

    /// <summary>The model's weights after the last completed epoch (TorchSharp's <c>Module.save</c> format).</summary>
    public required byte[] ModelWeights { get; init; }

    /// <summary>Adam's state (TorchSharp's <c>save_state_dict</c> format: per-parameter step, moments and the learning rate).</summary>
    public required byte[] OptimizerState { get; init; }

    /// <summary>The weights of <see cref="BestEpoch"/>, if any.</summary>
    public byte[]? BestWeights { get; init; }

    /// <summary>Writes the checkpoint to <paramref name="path"/> atomically (see <see cref="AtomicFile.Write"/>).</summary>
    public void Write(string path)
    {
        byte[] payload = SerializePayload();
        byte[] hash = SHA256.HashData(payload);
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write((long)payload.Length);
            writer.Write(hash);
            writer.Write(payload);
        });
    }

    /// <summary>Reads and verifies the checkpoint at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="CheckpointException">The file is truncated, altered, of another format or version, or malformed.</exception>
    public static TrainingCheckpoint Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"There is no checkpoint '{path}'.", path);
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderSize)
        {
            if (bytes.AsSpan().StartsWith(Magic) || Magic.StartsWith(bytes))
                throw new CheckpointException(path, $"is truncated: {bytes.Length} bytes, shorter than its {HeaderSize}-byte header.");
            throw new CheckpointException(path, "is not a LieConv.NET training checkpoint (too short, wrong magic bytes).");
        }
        if (!bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException(path, "is not a LieConv.NET training checkpoint (wrong magic bytes).");
        int version = BitConverter.ToInt32(bytes, 8);
        if (version != FormatVersion)
            throw new CheckpointException(path, $"has format version {version}; this build reads version {FormatVersion}.");
        long declared = BitConverter.ToInt64(bytes, 12);
        long present = bytes.Length - HeaderSize;
        if (present < declared)
            throw new CheckpointException(path, $"is truncated: its header announces {declared} payload bytes but only {present} are present.");
        if (present > declared)
            throw new CheckpointException(path, $"is corrupt: {present - declared} unexpected bytes follow its {declared}-byte payload.");
        var payload = bytes.AsSpan(HeaderSize);
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(bytes.AsSpan(20, HashSize)))
            throw new CheckpointException(path, "is corrupt: its SHA-256 checksum does not match its content (the file was altered or damaged).");
        try
        {
            return DeserializePayload(bytes, HeaderSize);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException or FormatException or OverflowException)
        {
            throw new CheckpointException(path, $"is malformed although its checksum matches ({e.Message}).", e);
        }
    }

    private byte[] SerializePayload()
    {
        using var memory = new MemoryStream();
        using (var w = new BinaryWriter(memory, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Epochs);
            w.Write(BatchesPerEpoch);
            w.Write(LearningRate);
            w.Write(CompletedEpochs);
            w.Write(GlobalStep);
            w.Write(BestEpoch ?? -1);
            w.Write(BestValue ?? double.NaN);
            w.Write(EpochsSinceImprovement);
            w.Write(StoppedEarly);
            w.Write(History.Count);
            foreach (var row in History)
            {
                w.Write(row.Epoch);
                w.Write(row.TrainingLoss);
                w.Write(row.LearningRate);
                w.Write(row.Improved);
                w.Write(row.Duration.Ticks);
                w.Write(row.ValidationMetrics.Count);
                foreach (var (name, value) in row.ValidationMetrics)
                {
                    w.Write(name);
                    w.Write(value);
                }
            }
            WriteBlob(w, RngState);
            WriteBlob(w, ModelWeights);
            WriteBlob(w, OptimizerState);
            w.Write(BestWeights is not null);
            if (BestWeights is not null) WriteBlob(w, BestWeights);
        }
        return memory.ToArray();
    }

    private static TrainingCheckpoint DeserializePayload(byte[] bytes, int offset)
    {
        using var memory = new MemoryStream(bytes, offset, bytes.Length - offset, writable: false);
        using var r = new BinaryReader(memory, Encoding.UTF8);
        int epochs = r.ReadInt32();
        int batchesPerEpoch = r.ReadInt32();
        double learningRate = r.ReadDouble();
        int completed = r.ReadInt32();
        long globalStep = r.ReadInt64();
        int bestEpoch = r.ReadInt32();
        double bestValue = r.ReadDouble();
        int sinceImprovement = r.ReadInt32();
        bool stoppedEarly = r.ReadBoolean();
        int rows = ReadCount(r);
        var history = new List<EpochSummary>(rows);
        for (int i = 0; i < rows; i++)
        {
            int epoch = r.ReadInt32();
            double loss = r.ReadDouble();
            double lr = r.ReadDouble();
            bool improved = r.ReadBoolean();
            var duration = TimeSpan.FromTicks(r.ReadInt64());
            int metricCount = ReadCount(r);
            var metrics = new Dictionary<string, double>(metricCount, StringComparer.Ordinal);
            for (int m = 0; m < metricCount; m++) metrics.Add(r.ReadString(), r.ReadDouble());
            history.Add(new EpochSummary(epoch, loss, lr, metrics, improved, duration));
        }
        var checkpoint = new TrainingCheckpoint
        {
            Epochs = epochs,
            BatchesPerEpoch = batchesPerEpoch,
            LearningRate = learningRate,
            CompletedEpochs = completed,
            GlobalStep = globalStep,
            BestEpoch = bestEpoch >= 0 ? bestEpoch : null,
            BestValue = bestEpoch >= 0 ? bestValue : null,
            EpochsSinceImprovement = sinceImprovement,
            StoppedEarly = stoppedEarly,
            History = history,
            RngState = ReadBlob(r),
            ModelWeights = ReadBlob(r),
            OptimizerState = ReadBlob(r),
            BestWeights = r.ReadBoolean() ? ReadBlob(r) : null,
        };
        if (memory.Position != memory.Length)
            throw new FormatException($"{memory.Length - memory.Position} bytes are left over after the last field");
        if (completed < 0 || completed > epochs || globalStep < 0 || history.Count != completed)
            throw new FormatException($"inconsistent position: {completed} of {epochs} epochs, {history.Count} history rows, step {globalStep}");
        return checkpoint;
    }

    private static void WriteBlob(BinaryWriter w, byte[] blob)
    {
        w.Write(blob.Length);
        w.Write(blob);
    }

    private static byte[] ReadBlob(BinaryReader r)
    {
        int length = ReadCount(r);
        byte[] blob = r.ReadBytes(length);
        if (blob.Length != length) throw new EndOfStreamException($"a {length}-byte block is cut short");
        return blob;
    }

    private static int ReadCount(BinaryReader r)
    {
        int count = r.ReadInt32();
        if (count < 0) throw new FormatException($"negative count {count}");
        return count;
    }
}
