using System.Security.Cryptography;
using LieConv.Models;
using LieConv.Nn;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// The parts of a LieConv transformer's model.zip that every kind writes alike: the input shape, the network's
/// architecture and its weights. The byte layout is the multiclass transformer's original one (its golden model.zip
/// must keep loading), so change nothing here without a new version of every model signature.
/// </summary>
internal static class LieConvNetworkSettings
{
    /// <summary>The model.zip entry of the TorchSharp weights.</summary>
    public const string WeightsEntry = "TSModel";

    /// <summary>Writes the input shape and every field that shapes the network.</summary>
    public static void Save(ModelSaveContext ctx, int spaceDimension, int channels, LieResNetOptions o)
    {
        ctx.Writer.Write(spaceDimension);
        ctx.Writer.Write(channels);

        // The architecture is not in the weights, so every field that shapes the network is written explicitly.
        ctx.SaveNonEmptyString(o.Group);
        ctx.Writer.Write(o.InputChannels);
        ctx.Writer.Write(o.Outputs);
        ctx.Writer.Write(o.Channels);
        WriteList(ctx.Writer, o.ChannelsPerStage, (w, v) => w.Write(v));
        ctx.Writer.Write(o.Layers);
        ctx.Writer.Write(o.Neighbourhood);
        ctx.Writer.Write(o.Fill);
        WriteList(ctx.Writer, o.FillPerLayer, (w, v) => w.Write(v));
        ctx.Writer.Write(o.Downsample);
        ctx.Writer.Write((int)o.Activation);
        ctx.Writer.Write(o.BatchNorm);
        ctx.Writer.Write(o.Mean);
        ctx.Writer.Write(o.Pool);
        ctx.Writer.Write(o.LiftSamples);
        ctx.Writer.Write(o.Knn);
        ctx.Writer.Write(o.EvaluationSeed.HasValue);
        ctx.Writer.Write(o.EvaluationSeed ?? 0);
    }

    /// <summary>Reads back what <see cref="Save"/> wrote.</summary>
    /// <exception cref="FormatException">The stored options are invalid.</exception>
    public static (int SpaceDimension, int Channels, LieResNetOptions Spec) Load(ModelLoadContext ctx)
    {
        var r = ctx.Reader;
        int spaceDimension = r.ReadInt32();
        int channels = r.ReadInt32();
        var spec = new LieResNetOptions
        {
            Group = ctx.LoadNonEmptyString(),
            InputChannels = r.ReadInt32(),
            Outputs = r.ReadInt32(),
            Channels = r.ReadInt32(),
            ChannelsPerStage = ReadList(r, x => x.ReadInt32()),
            Layers = r.ReadInt32(),
            Neighbourhood = r.ReadInt64(),
            Fill = r.ReadDouble(),
            FillPerLayer = ReadList(r, x => x.ReadDouble()),
            Downsample = r.ReadDouble(),
            Activation = (Activation)r.ReadInt32(),
            BatchNorm = r.ReadBoolean(),
            Mean = r.ReadBoolean(),
            Pool = r.ReadBoolean(),
            LiftSamples = r.ReadInt32(),
            Knn = r.ReadBoolean(),
        };
        bool hasEvaluationSeed = r.ReadBoolean();
        long evaluationSeed = r.ReadInt64();
        spec = spec with { EvaluationSeed = hasEvaluationSeed ? evaluationSeed : null };
        try
        {
            spec.Validate();
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"model.zip: the stored LieConv network options are invalid ({e.Message}).", e);
        }
        return (spaceDimension, channels, spec);
    }

    /// <summary>The first model version that stores <see cref="SaveWeights"/>'s MaxPoints and weights checksum.</summary>
    public const uint ChecksummedVersion = 0x00010002;

    /// <summary>
    /// Writes MaxPoints and the SHA-256 of the weights to the model stream, then the weights to their own entry: a
    /// TorchSharp weights file with altered values still loads, so only the checksum can tell that it was tampered with.
    /// </summary>
    public static void SaveWeights(ModelSaveContext ctx, LieResNet model, int? maxPoints)
    {
        ctx.Writer.Write(maxPoints ?? 0);
        SaveChecksummedWeights(ctx, model);
    }

    /// <summary>
    /// Writes the SHA-256 of <paramref name="model"/>'s weights to the model stream and the weights to
    /// <see cref="WeightsEntry"/>; <see cref="LoadChecksummedWeights"/> reads them back into a network of the same shape.
    /// </summary>
    public static void SaveChecksummedWeights(ModelSaveContext ctx, TorchSharp.torch.nn.Module model)
    {
        var weights = new MemoryStream();
        using (var writer = new BinaryWriter(weights, System.Text.Encoding.UTF8, leaveOpen: true))
            model.save(writer);
        var bytes = weights.ToArray();
        ctx.Writer.Write(SHA256.HashData(bytes));
        ctx.SaveBinaryStream(WeightsEntry, w => w.Write(bytes));
    }

    /// <summary>Reads what <see cref="SaveChecksummedWeights"/> wrote into <paramref name="model"/> (already built from the stored spec).</summary>
    /// <exception cref="FormatException">The weights are missing, truncated, altered or not this network's.</exception>
    public static void LoadChecksummedWeights(ModelLoadContext ctx, TorchSharp.torch.nn.Module model, string transformer)
    {
        var checksum = ctx.Reader.ReadBytes(SHA256.HashSizeInBytes);
        if (checksum.Length != SHA256.HashSizeInBytes)
            throw new FormatException($"model.zip: the LieConv {transformer} transformer's model entry is truncated (no weights checksum).");
        ReadWeights(ctx, model, checksum, transformer);
    }

    /// <summary>
    /// Reads what <see cref="SaveWeights"/> wrote (models older than <see cref="ChecksummedVersion"/> have no MaxPoints
    /// and no checksum), builds a <paramref name="spec"/> network and loads its weights.
    /// </summary>
    /// <param name="ctx">The model being loaded.</param>
    /// <param name="spec">The stored architecture.</param>
    /// <param name="transformer">Names the transformer in errors, e.g. "multiclass".</param>
    /// <exception cref="FormatException">The weights are missing, truncated, altered or not this network's.</exception>
    public static (LieResNet Model, int? MaxPoints) LoadWeights(ModelLoadContext ctx, LieResNetOptions spec, string transformer)
    {
        int? maxPoints = null;
        byte[]? checksum = null;
        if (ctx.Header.ModelVerWritten >= ChecksummedVersion)
        {
            int stored = ctx.Reader.ReadInt32();
            maxPoints = stored > 0 ? stored : null;
            checksum = ctx.Reader.ReadBytes(SHA256.HashSizeInBytes);
            if (checksum.Length != SHA256.HashSizeInBytes)
                throw new FormatException($"model.zip: the LieConv {transformer} transformer's model entry is truncated (no weights checksum).");
        }

        var model = new LieResNet(spec);
        try
        {
            ReadWeights(ctx, model, checksum, transformer);
            return (model, maxPoints);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void ReadWeights(ModelLoadContext ctx, TorchSharp.torch.nn.Module model, byte[]? checksum, string transformer)
    {
        bool found;
        try
        {
            found = ctx.TryLoadBinaryStream(WeightsEntry, r =>
            {
                var bytes = ReadToEnd(r.BaseStream);
                if (checksum is not null && !SHA256.HashData(bytes).AsSpan().SequenceEqual(checksum))
                    throw new InvalidDataException("its SHA-256 differs from the one recorded when the model was saved, so it was altered or damaged");
                using var weights = new BinaryReader(new MemoryStream(bytes));
                model.load(weights, strict: true);
                // A longer entry than the network reads back is not this network's weights either.
                if (weights.BaseStream.Position != weights.BaseStream.Length)
                    throw new FormatException($"{weights.BaseStream.Length - weights.BaseStream.Position} bytes follow the weights");
            });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new FormatException(
                $"model.zip: the '{WeightsEntry}' entry of the LieConv {transformer} transformer is truncated, altered or is not the " +
                $"TorchSharp weights of the stored network ({e.GetType().Name}: {e.Message}).", e);
        }
        if (!found)
            throw new FormatException($"model.zip: the LieConv {transformer} transformer has no '{WeightsEntry}' entry (its weights).");
    }

    private static byte[] ReadToEnd(Stream stream)
    {
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static void WriteList<T>(BinaryWriter writer, IReadOnlyList<T>? list, Action<BinaryWriter, T> write)
    {
        writer.Write(list?.Count ?? -1);
        foreach (var item in list ?? [])
            write(writer, item);
    }

    private static T[]? ReadList<T>(BinaryReader reader, Func<BinaryReader, T> read)
    {
        int count = reader.ReadInt32();
        if (count < -1 || count > 1 << 16)
            throw new FormatException($"model.zip: a stored LieConv network option list has the invalid length {count}.");
        return count < 0 ? null : Enumerable.Range(0, count).Select(_ => read(reader)).ToArray();
    }
}
