using LieConv.Datasets.Io;
using LieConv.Datasets.Springs;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.Springs;

/// <summary>The on-disk cache of generated systems: keyed file names, round trips, atomic writes and clear errors.</summary>
[TestFixture]
public sealed class SpringsCacheTests
{
    private static readonly SpringsGeneratorOptions Options = new() { Systems = 5, Particles = 3, Dimension = 2, Steps = 30, Seed = 12 };

    private string _folder = "";

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "lieconv-springs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Test]
    public void FileName_ChangesWithEveryParameterThatChangesTheData_AndOnlyThose()
    {
        string name = SpringsCache.FileName(Options);
        Assert.That(name, Does.EndWith(".npz"));
        SpringsGeneratorOptions[] variants =
        [
            Options with { Systems = 6 }, Options with { Particles = 4 }, Options with { Dimension = 3 }, Options with { Steps = 31 },
            Options with { TimeStep = 0.02 }, Options with { Seed = 13 }, Options with { Forces = SpringForces.Autograd },
        ];
        Assert.That(variants.Select(SpringsCache.FileName).Append(name), Is.Unique);
        Assert.That(SpringsCache.FileName(Options with { IntegrationBatchSize = 2 }), Is.EqualTo(name));
        Assert.That(SpringsCache.FileName(new SpringsGeneratorOptions()),
            Is.EqualTo($"springs_v{SpringsCache.FormatVersion}_2D_6p_10000sys_500steps_dt0.01_seed0_closedform.npz"));
    }

    [Test]
    public void LoadOrGenerate_WritesTheFile_ThenLoadsTheSameData()
    {
        var generated = SpringsCache.LoadOrGenerate(_folder, Options);
        string path = Path.Combine(_folder, SpringsCache.FileName(Options));
        Assert.That(File.Exists(path), Is.True);
        Assert.That(Directory.GetFiles(_folder), Has.Length.EqualTo(1), "no temporary file is left behind");

        var loaded = SpringsCache.LoadOrGenerate(_folder, Options with { IntegrationBatchSize = 2 });
        Assert.That(loaded.Options with { IntegrationBatchSize = generated.Options.IntegrationBatchSize }, Is.EqualTo(generated.Options));
        Assert.That(loaded.Trajectories.SequenceEqual(generated.Trajectories), Is.True);
        Assert.That(loaded.Parameters.SequenceEqual(generated.Parameters), Is.True);
        Assert.That(loaded.Times.SequenceEqual(generated.Times), Is.True);
    }

    [Test]
    public void LoadOrGenerate_ReadsAnExistingFile_RatherThanRegenerating()
    {
        // A file with recognisably different trajectories (all zeros) under the right name must be what comes back.
        var generated = SpringsGenerator.Generate(Options);
        var marked = new SpringSystems(Options, generated.Times.ToArray(), new double[generated.Trajectories.Length], generated.Parameters.ToArray());
        SpringsCache.Save(Path.Combine(_folder, SpringsCache.FileName(Options)), marked);

        var loaded = SpringsCache.LoadOrGenerate(_folder, Options);
        Assert.That(loaded.Trajectories.ToArray(), Is.All.Zero);

        var regenerated = SpringsCache.LoadOrGenerate(_folder, Options, regenerate: true);
        Assert.That(regenerated.Trajectories.SequenceEqual(generated.Trajectories), Is.True);
        Assert.That(SpringsCache.Load(Path.Combine(_folder, SpringsCache.FileName(Options))).Trajectories.SequenceEqual(generated.Trajectories), Is.True);
    }

    [Test]
    public void CorruptFile_IsReportedByName_AndRegenerateReplacesIt()
    {
        string path = Path.Combine(_folder, SpringsCache.FileName(Options));
        File.WriteAllText(path, "not a zip archive");

        var error = Assert.Throws<InvalidDataException>(() => SpringsCache.LoadOrGenerate(_folder, Options));
        Assert.That(error!.Message, Does.Contain(path).And.Contain("corrupt").And.Contain("regenerate"));

        var regenerated = SpringsCache.LoadOrGenerate(_folder, Options, regenerate: true);
        Assert.That(regenerated.Count, Is.EqualTo(5));
        Assert.That(SpringsCache.LoadOrGenerate(_folder, Options).Trajectories.SequenceEqual(regenerated.Trajectories), Is.True);
    }

    [Test]
    public void TruncatedFile_IsReportedByName()
    {
        string path = Path.Combine(_folder, SpringsCache.FileName(Options));
        SpringsCache.LoadOrGenerate(_folder, Options);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<InvalidDataException>(() => SpringsCache.Load(path));
        Assert.That(error!.Message, Does.Contain(path));
    }

    [Test]
    public void FileWithOtherData_UnderThisName_IsReported()
    {
        // A valid cache of other parameters renamed to this key: loading it as if it were this key would be silently wrong.
        var other = SpringsGenerator.Generate(Options with { Seed = 99 });
        string path = Path.Combine(_folder, SpringsCache.FileName(Options));
        SpringsCache.Save(path, other);

        var error = Assert.Throws<InvalidDataException>(() => SpringsCache.LoadOrGenerate(_folder, Options));
        Assert.That(error!.Message, Does.Contain(path).And.Contain("seed 99").And.Contain("promises"));
    }

    [Test]
    public void MissingOrMisshapedMembers_AreReportedByName()
    {
        string path = Path.Combine(_folder, "broken.npz");
        Npy.WriteNpzFile(path, [new NpyArray("format_version", [SpringsCache.FormatVersion], [])]);
        Assert.That(() => SpringsCache.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contain(path).And.Message.Contain("times"));

        var systems = SpringsGenerator.Generate(Options);
        Npy.WriteNpzFile(path,
        [
            new NpyArray("format_version", [SpringsCache.FormatVersion], []),
            new NpyArray("seed", [12L], []),
            new NpyArray("time_step", [0.01], []),
            new NpyArray("forces", [0], []),
            new NpyArray("times", systems.Times.ToArray(), [30]),
            new NpyArray("system_parameters", systems.Parameters.ToArray(), [5, 3, 2]),
            new NpyArray("trajectories", systems.Trajectories.ToArray(), [5, 30, 12]),   // 12 = 2·3·2 fits, so this loads...
        ]);
        Assert.That(SpringsCache.Load(path).Trajectories.SequenceEqual(systems.Trajectories), Is.True);

        Npy.WriteNpzFile(path,
        [
            new NpyArray("format_version", [SpringsCache.FormatVersion], []),
            new NpyArray("seed", [12L], []),
            new NpyArray("time_step", [0.01], []),
            new NpyArray("forces", [0], []),
            new NpyArray("times", systems.Times.ToArray(), [30]),
            new NpyArray("system_parameters", systems.Parameters.ToArray(), [5, 3, 2]),
            new NpyArray("trajectories", systems.Trajectories.ToArray(), [5, 20, 18]),      // ...but this does not fit T = 30
        ]);
        Assert.That(() => SpringsCache.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contain(path).And.Message.Contain("shapes"));

        Npy.WriteNpzFile(path, [new NpyArray("format_version", [SpringsCache.FormatVersion + 1], [])]);
        Assert.That(() => SpringsCache.Load(path), Throws.InstanceOf<InvalidDataException>().With.Message.Contain("format version"));
    }
}
