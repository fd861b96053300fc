using System.Reflection;
using LieConv.MLNet.MlNet;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using NUnit.Framework;

namespace LieConv.Tests.MLNet;

/// <summary>
/// LieConv.MLNet compiles against publicized Microsoft.ML.Core/Data and relies on IgnoresAccessChecksTo
/// at run time (mlnet-conventions.md §1-2). These tests show both halves work: the internal accessors run
/// against the real assemblies, and the real assemblies (not the compile-only copies) are what ships.
/// No TorchSharp here, so they run where libtorch does not load.
/// </summary>
[TestFixture]
public class PublicizerTests
{
    [Test]
    public void TrainersCatalogGivesTheContextsEnvironment()
    {
        var mlContext = new MLContext(seed: 1);

        // CatalogUtils.GetEnvironment is internal: without IgnoresAccessChecksTo this throws
        // MethodAccessException (or the type fails to load) rather than returning.
        IHostEnvironment env = mlContext.Regression.Trainers.GetHostEnvironment();

        Assert.That(env, Is.Not.Null);
        Assert.That(env.GetSeed(), Is.EqualTo(1), "IHostEnvironmentInternal.Seed should be the MLContext's seed");
    }

    [Test]
    public void TransformsCatalogGivesTheContextsEnvironment()
    {
        var mlContext = new MLContext(seed: 1);

        IHostEnvironment env = mlContext.Transforms.GetHostEnvironment();

        Assert.That(env, Is.Not.Null);
        Assert.That(env.GetSeed(), Is.EqualTo(1));
    }

    [Test]
    public void ContextWithoutSeedHasNone()
    {
        Assert.That(new MLContext().Transforms.GetHostEnvironment().GetSeed(), Is.Null);
    }

    [TestCase(typeof(IHostEnvironment), TestName = "LoadedMicrosoftMLCoreIsTheRealOne")]
    [TestCase(typeof(MLContext), TestName = "LoadedMicrosoftMLDataIsTheRealOne")]
    public void LoadedMlNetAssemblyIsTheRealOne(Type fromAssembly)
    {
        Assembly assembly = fromAssembly.Assembly;
        string loaded = assembly.Location;
        Assert.That(loaded, Is.Not.Empty, $"{assembly.GetName().Name} was not loaded from a file");

        // The package version is pinned ([5.0.1]); reading it off the assembly keeps this test true after a bump.
        string version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string packageLib = Path.Combine(packages, "microsoft.ml", version, "lib");
        string[] originals = Directory.Exists(packageLib)
            ? Directory.GetFiles(packageLib, Path.GetFileName(loaded), SearchOption.AllDirectories)
            : [];
        if (originals.Length == 0)
            Assert.Ignore($"No {Path.GetFileName(loaded)} under {packageLib} to compare with.");

        byte[] actual = File.ReadAllBytes(loaded);
        Assert.That(originals.Any(o => File.ReadAllBytes(o).AsSpan().SequenceEqual(actual)), Is.True,
            $"{loaded} differs from the package's copy ({string.Join(", ", originals)}): a publicized compile-only copy must never ship.");
    }
}
