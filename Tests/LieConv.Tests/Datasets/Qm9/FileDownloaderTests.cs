using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using LieConv.Datasets.Download;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.Qm9;

/// <summary>
/// The dataset downloader against an in-process fake server (an <see cref="HttpMessageHandler"/> serving local bytes,
/// honouring Range, and able to cut a transfer short): caching, the recorded hash, resuming, checksum errors.
/// No request leaves the process.
/// </summary>
[TestFixture]
public sealed class FileDownloaderTests
{
    private static readonly Uri FileUri = new("https://data.example.invalid/files/42");

    private string _directory = "";
    private byte[] _content = [];

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "lieconv-download-tests-" + Guid.NewGuid().ToString("N"));
        _content = new byte[300_000];
        new Random(7).NextBytes(_content);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private FileDownloader Downloader(FakeServer server, int maxAttempts = 3) =>
        new(_directory, new HttpClient(server)) { MaxAttempts = maxAttempts, RetryDelay = TimeSpan.Zero };

    [Test]
    public async Task FirstDownload_RecordsTheHash_AndLaterCallsUseTheCache()
    {
        var server = new FakeServer(_content);
        using var downloader = Downloader(server);
        var item = new DownloadItem(FileUri, "data.bin");

        string path = await downloader.DownloadAsync(item);

        Assert.That(path, Is.EqualTo(Path.Combine(_directory, "data.bin")));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(_content));
        Assert.That(File.ReadAllText(path + FileDownloader.HashSuffix), Is.EqualTo($"{Sha(_content)}  data.bin\n"), "sha256sum format");
        Assert.That(File.Exists(path + FileDownloader.PartialSuffix), Is.False);
        Assert.That(await downloader.DownloadAsync(item), Is.EqualTo(path));
        Assert.That(server.Requests, Has.Count.EqualTo(1), "the verified cached copy is reused");
    }

    [Test]
    public async Task InterruptedTransfer_IsResumedWithARangeRequest_InTheSameCall()
    {
        var server = new FakeServer(_content) { CutAfter = { 70_000 } };
        using var downloader = Downloader(server);

        string path = await downloader.DownloadAsync(new DownloadItem(FileUri, "data.bin", Sha(_content)));

        Assert.That(File.ReadAllBytes(path), Is.EqualTo(_content));
        Assert.That(server.Requests.Select(r => r.Range?.ToString()), Is.EqualTo(new[] { null, "bytes=70000-" }));
    }

    [Test]
    public async Task InterruptedFirstCall_LeavesAPartialFile_ThatTheNextCallResumes()
    {
        var server = new FakeServer(_content) { CutAfter = { 123_456 } };
        var item = new DownloadItem(FileUri, "data.bin");
        string partial = Path.Combine(_directory, "data.bin" + FileDownloader.PartialSuffix);

        using (var once = Downloader(server, maxAttempts: 1))
        {
            await Assert.ThrowsAsync<IOException>(() => once.DownloadAsync(item));
        }

        Assert.That(new FileInfo(partial).Length, Is.EqualTo(123_456));
        Assert.That(File.Exists(Path.Combine(_directory, "data.bin")), Is.False, "nothing incomplete under the real name");

        using var again = Downloader(server);
        string path = await again.DownloadAsync(item);

        Assert.That(File.ReadAllBytes(path), Is.EqualTo(_content));
        Assert.That(server.Requests[^1].Range?.ToString(), Is.EqualTo("bytes=123456-"));
        Assert.That(File.Exists(partial), Is.False);
        Assert.That(File.ReadAllText(path + FileDownloader.HashSuffix), Does.StartWith(Sha(_content)));
    }

    [Test]
    public async Task ServerThatIgnoresRange_StartsOverAndStillGivesTheRightFile()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllBytes(Path.Combine(_directory, "data.bin" + FileDownloader.PartialSuffix), new byte[5000]);
        var server = new FakeServer(_content) { SupportsRange = false };
        using var downloader = Downloader(server);

        string path = await downloader.DownloadAsync(new DownloadItem(FileUri, "data.bin", Sha(_content)));

        Assert.That(File.ReadAllBytes(path), Is.EqualTo(_content));
        Assert.That(server.Requests.Single().Range?.ToString(), Is.EqualTo("bytes=5000-"));
    }

    [Test]
    public async Task PartialFileAlreadyComplete_IsFinishedWithoutTransferringAgain()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllBytes(Path.Combine(_directory, "data.bin" + FileDownloader.PartialSuffix), _content);
        var server = new FakeServer(_content);
        using var downloader = Downloader(server);

        string path = await downloader.DownloadAsync(new DownloadItem(FileUri, "data.bin", Sha(_content)));

        Assert.That(File.ReadAllBytes(path), Is.EqualTo(_content));
        Assert.That(server.Requests.Single().Status, Is.EqualTo(HttpStatusCode.RequestedRangeNotSatisfiable));
    }

    [Test]
    public async Task ChecksumMismatch_IsAnErrorAndLeavesNoFile()
    {
        var server = new FakeServer(_content);
        using var downloader = Downloader(server);
        string wrong = new('a', 64);

        var error = await Assert.ThrowsAsync<DownloadChecksumException>(() => downloader.DownloadAsync(new DownloadItem(FileUri, "data.bin", wrong.ToUpperInvariant())));

        Assert.That(error!.Expected, Is.EqualTo(wrong));
        Assert.That(error.Actual, Is.EqualTo(Sha(_content)));
        Assert.That(error.Message, Does.Contain(FileUri.ToString()).And.Contain("configured").And.Contain(wrong).And.Contain(Sha(_content)));
        Assert.That(Directory.GetFiles(_directory), Is.Empty, "neither the file, its partial copy nor a recorded hash");
    }

    [Test]
    public async Task ChangedServerFile_DoesNotMatchTheHashRecordedAtTheFirstDownload()
    {
        var server = new FakeServer(_content);
        using var downloader = Downloader(server);
        var item = new DownloadItem(FileUri, "data.bin");
        string path = await downloader.DownloadAsync(item);
        File.Delete(path);
        server.Content = [.. _content[..1000], 0xFF, .. _content[1001..]];

        var error = await Assert.ThrowsAsync<DownloadChecksumException>(() => downloader.DownloadAsync(item));

        Assert.That(error!.Expected, Is.EqualTo(Sha(_content)));
        Assert.That(error.Message, Does.Contain("recorded in").And.Contain(".sha256"));
        Assert.That(File.Exists(path), Is.False);
    }

    [Test]
    public async Task CorruptedCachedFile_IsDownloadedAgain()
    {
        var server = new FakeServer(_content);
        using var downloader = Downloader(server);
        var item = new DownloadItem(FileUri, "data.bin", Sha(_content));
        string path = await downloader.DownloadAsync(item);
        File.WriteAllBytes(path, _content[..1000]);

        Assert.That(await downloader.DownloadAsync(item), Is.EqualTo(path));

        Assert.That(File.ReadAllBytes(path), Is.EqualTo(_content));
        Assert.That(server.Requests, Has.Count.EqualTo(2));
    }

    [Test]
    public async Task NotFound_IsNotRetried()
    {
        var server = new FakeServer(_content) { Status = HttpStatusCode.NotFound };
        using var downloader = Downloader(server);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => downloader.DownloadAsync(new DownloadItem(FileUri, "data.bin")));

        Assert.That(error!.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(server.Requests, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task RepeatedInterruptions_GiveUpAfterMaxAttempts()
    {
        var server = new FakeServer(_content) { CutAfter = { 1000, 1000, 1000, 1000 } };
        using var downloader = Downloader(server, maxAttempts: 3);

        await Assert.ThrowsAsync<IOException>(() => downloader.DownloadAsync(new DownloadItem(FileUri, "data.bin")));

        Assert.That(server.Requests, Has.Count.EqualTo(3));
        Assert.That(new FileInfo(Path.Combine(_directory, "data.bin" + FileDownloader.PartialSuffix)).Length, Is.EqualTo(3000), "kept for a later resume");
    }

    [TestCase("../escape.bin")]
    [TestCase("sub/file.bin")]
    [TestCase("")]
    public void FileNameWithFolders_IsRejected(string name)
    {
        using var downloader = Downloader(new FakeServer(_content));
        Assert.Throws<ArgumentException>(() => downloader.PathOf(new DownloadItem(FileUri, name)));
    }

    [Test]
    public async Task Qm9_DownloadsTheThreeOfficialFilesByTheirFigshareIds()
    {
        var items = Qm9Download.Items();
        Assert.That(items.Select(i => i.Source.ToString()), Is.EqualTo(new[]
        {
            "https://springernature.figshare.com/ndownloader/files/3195389",
            "https://springernature.figshare.com/ndownloader/files/3195404",
            "https://springernature.figshare.com/ndownloader/files/3195395",
        }));
        Assert.That(items.Select(i => i.FileName), Is.EqualTo(new[] { "dsgdb9nsd.xyz.tar.bz2", "uncharacterized.txt", "atomref.txt" }));

        var files = new Dictionary<string, byte[]>
        {
            ["/ndownloader/files/3195389"] = [1, 2, 3],
            ["/ndownloader/files/3195404"] = [4, 5],
            ["/ndownloader/files/3195395"] = [6],
        };
        var server = new FakeServer([]) { ContentByPath = files };
        using var downloader = Downloader(server);

        var paths = await Qm9Download.DownloadAsync(downloader, exclusionsSha256: Sha([4, 5]));

        Assert.That(File.ReadAllBytes(paths.Archive), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(File.ReadAllBytes(paths.Exclusions), Is.EqualTo(new byte[] { 4, 5 }));
        Assert.That(File.ReadAllBytes(paths.AtomReferences), Is.EqualTo(new byte[] { 6 }));
        Assert.That(Path.GetFileName(paths.Archive), Is.EqualTo("dsgdb9nsd.xyz.tar.bz2"));
        Assert.That(server.Requests.Select(r => r.Uri.Host).Distinct(), Is.EqualTo(new[] { "springernature.figshare.com" }), "answered in-process");
    }

    /// <summary>Serves bytes in-process; honours single open-ended Range requests; can cut response bodies short.</summary>
    private sealed class FakeServer(byte[] content) : HttpMessageHandler
    {
        private int _bodies;

        public byte[] Content { get; set; } = content;

        public Dictionary<string, byte[]>? ContentByPath { get; init; }

        public bool SupportsRange { get; init; } = true;

        public HttpStatusCode Status { get; init; } = HttpStatusCode.OK;

        /// <summary>For the first responses, in order: how many body bytes to send before the connection "drops".</summary>
        public List<int> CutAfter { get; } = [];

        public List<(Uri Uri, RangeHeaderValue? Range, HttpStatusCode Status)> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            byte[] bytes = ContentByPath is null ? Content : ContentByPath[request.RequestUri!.AbsolutePath];
            var range = request.Headers.Range;
            HttpResponseMessage response;
            if (Status != HttpStatusCode.OK)
            {
                response = new HttpResponseMessage(Status);
            }
            else if (SupportsRange && range?.Ranges.Single().From is { } from)
            {
                if (from >= bytes.Length)
                {
                    response = new HttpResponseMessage(HttpStatusCode.RequestedRangeNotSatisfiable) { Content = new ByteArrayContent([]) };
                    response.Content.Headers.ContentRange = new ContentRangeHeaderValue(bytes.Length);
                }
                else
                {
                    response = new HttpResponseMessage(HttpStatusCode.PartialContent) { Content = Body(bytes[(int)from..]) };
                    response.Content.Headers.ContentRange = new ContentRangeHeaderValue(from, bytes.Length - 1, bytes.Length);
                }
            }
            else
            {
                response = new HttpResponseMessage(HttpStatusCode.OK) { Content = Body(bytes) };
            }

            Requests.Add((request.RequestUri!, range, response.StatusCode));
            return Task.FromResult(response);
        }

        private StreamContent Body(byte[] bytes)
        {
            int dropAfter = _bodies < CutAfter.Count ? CutAfter[_bodies] : int.MaxValue;
            _bodies++;
            var body = new StreamContent(new DroppingStream(bytes, dropAfter));
            body.Headers.ContentLength = bytes.Length;
            return body;
        }
    }

    /// <summary>Reads like a network body that fails with an IOException after a given number of bytes.</summary>
    private sealed class DroppingStream(byte[] bytes, int dropAfter) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => bytes.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position >= dropAfter)
            {
                throw new IOException("The connection was reset (test).");
            }

            int count = Math.Min(buffer.Length, Math.Min(bytes.Length, dropAfter) - _position);
            bytes.AsSpan(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
