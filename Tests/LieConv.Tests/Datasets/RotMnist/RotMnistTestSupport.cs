using NUnit.Framework;

namespace LieConv.Tests.Datasets.RotMnist;

/// <summary>A fresh temporary folder per test for the fixture files of the RotMNIST tests, deleted afterwards.</summary>
public abstract class RotMnistTempFolder
{
    /// <summary>The current test's folder.</summary>
    protected string Folder { get; private set; } = "";

    [SetUp]
    public void CreateFolder()
    {
        Folder = Path.Combine(Path.GetTempPath(), "lieconv-rotmnist-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }

    /// <summary>The full path of <paramref name="name"/> in <see cref="Folder"/>.</summary>
    protected string PathOf(string name) => Path.Combine(Folder, name);
}

/// <summary>Shared MNIST files and small helpers.</summary>
internal static class RotMnistTestData
{
    public const string MnistImages = "mnist/t10k-images-idx3-ubyte.gz";

    public const string MnistLabels = "mnist/t10k-labels-idx1-ubyte.gz";

    /// <summary>A non-seekable stream that hands out at most 7 bytes per read (a pipe or network stream in miniature).</summary>
    public sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));

        public override int Read(Span<byte> buffer) => _inner.Read(buffer[..Math.Min(buffer.Length, 7)]);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
