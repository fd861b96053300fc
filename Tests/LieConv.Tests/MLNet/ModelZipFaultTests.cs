using System.IO.Compression;
using System.Text;
using LieConv.MLNet;
using Microsoft.ML;
using NUnit.Framework;

namespace LieConv.Tests.MLNet;

/// <summary>Damaged, altered, foreign and too-new model.zip files give clear .NET exceptions, never wrong numbers.</summary>
[TestFixture]
public class ModelZipFaultTests : TempFolderFixture
{
    private string SaveTinyModel(int? maxPoints = null)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(TestClouds.Make(16, 2));
        var options = TestClouds.Tiny(epochs: 1);
        options.MaxPoints = maxPoints;
        var model = TestClouds.Pipeline(ml, options).Fit(data);
        string path = Path.Combine(Folder, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        return path;
    }

    /// <summary>Rewrites the one entry whose name ends with <paramref name="suffix"/> (and whose bytes satisfy <paramref name="match"/>).</summary>
    private static void Rewrite(string path, string suffix, Func<byte[], byte[]?> change)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        int changed = 0;
        foreach (var entry in zip.Entries.Where(e => e.FullName.EndsWith(suffix, StringComparison.Ordinal)).ToList())
        {
            byte[] bytes;
            using (var stream = entry.Open())
            using (var copy = new MemoryStream())
            {
                stream.CopyTo(copy);
                bytes = copy.ToArray();
            }
            if (change(bytes) is not { } replaced) continue;
            string name = entry.FullName;
            entry.Delete();
            using var rewritten = zip.CreateEntry(name).Open();
            rewritten.Write(replaced);
            changed++;
        }
        Assert.That(changed, Is.EqualTo(1), $"exactly one '{suffix}' entry should have been changed");
    }

    [Test]
    public void AlteredWeightsAreDetectedByTheirChecksum()
    {
        string path = SaveTinyModel();
        Rewrite(path, "TSModel", bytes =>
        {
            // One changed byte in the last float of the weights: TorchSharp would load it without complaint.
            bytes[^2] ^= 0x40;
            return bytes;
        });
        var error = Assert.Catch(() => new MLContext(seed: 1).Model.Load(path, out _));
        string messages = TestClouds.Messages(error);
        Assert.That(messages, Does.Contain("model.zip").And.Contain("TSModel").And.Contain("SHA-256"), messages);
    }

    [Test]
    public void ModelFromANewerLibraryVersionIsRefusedClearly()
    {
        string path = SaveTinyModel();
        Rewrite(path, "Model.key", bytes =>
        {
            int at = IndexOf(bytes, Encoding.ASCII.GetBytes("LIECVMCL"));
            if (at < 0) return null;
            // The model header stores (verWritten, verReadable) right after the 8-byte signature: claim a future format.
            BitConverter.TryWriteBytes(bytes.AsSpan(at + 8), 0x00020001u);
            BitConverter.TryWriteBytes(bytes.AsSpan(at + 12), 0x00020001u);
            return bytes;
        });
        var error = Assert.Catch(() => new MLContext(seed: 1).Model.Load(path, out _));
        string messages = TestClouds.Messages(error);
        Assert.That(messages, Does.Contain("model.zip: the LieConv multiclass transformer was saved by a newer LieConv.NET (format 0x00020001")
            .And.Contain("LieConv.MLNet 0.1.0.0 reads formats 0x00010001 to 0x00010002"), messages);
    }

    [Test]
    public void ForeignFileIsRefused()
    {
        string path = Path.Combine(Folder, "model.zip");
        File.WriteAllBytes(path, Encoding.UTF8.GetBytes("this is not a model"));
        Assert.Catch(() => new MLContext(seed: 1).Model.Load(path, out _));

        File.Delete(path);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var writer = new StreamWriter(zip.CreateEntry("readme.txt").Open()))
            writer.Write("a zip, but not an ML.NET model");
        Assert.Catch(() => new MLContext(seed: 1).Model.Load(path, out _));
    }

    [Test]
    public void MaxPointsSurvivesSaveAndLoad()
    {
        string path = SaveTinyModel(maxPoints: 13);
        var ml = new MLContext(seed: 1);
        var loaded = ml.Model.Load(path, out _);
        var lieConv = ((IEnumerable<ITransformer>)loaded).OfType<LieConvMulticlassTransformer>().Single();
        Assert.That(lieConv.MaxPoints, Is.EqualTo(13));
        Assert.That(lieConv.Device, Is.EqualTo("cpu"));
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        return -1;
    }
}
