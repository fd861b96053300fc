using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using LieConv.Models.Dynamics;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.Benchmarks;

/// <summary>
/// The benchmark harness (Tests/LieConv.Benchmarks) as its users run it — a separate process, since it sets the
/// process's allocator and reads its peak memory — on its smallest configurations with one or two steps: what each
/// JSON line holds, one child process per configuration, and the errors for bad arguments.
/// </summary>
/// <remarks>These check what the harness reports, never how fast anything ran.</remarks>
[TestFixture]
public class BenchmarkHarnessTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    /// <summary>The harness built beside this test assembly, for the same configuration and framework.</summary>
    private static string HarnessPath()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));   // …/LieConv.Tests/bin/<Configuration>/<tfm>
        string configuration = typeof(BenchmarkHarnessTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        string path = Path.Combine(here.Parent!.Parent!.Parent!.Parent!.FullName, "LieConv.Benchmarks", "bin", configuration, here.Name, "LieConv.Benchmarks.dll");
        Assert.That(File.Exists(path), Is.True,
            $"The benchmark harness is not built at {path}; LieConv.Tests references its project, so building the tests builds it.");
        return path;
    }

    private static (int ExitCode, string[] Lines, string Errors) Run(params string[] args)
    {
        // The dotnet host that runs these tests (dotnet test sets DOTNET_HOST_PATH for its children), else PATH's.
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } set && File.Exists(set) ? set
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(HarnessPath());
        foreach (var argument in args) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        // Both streams read while it runs (a full pipe would stall it), and neither read may outlast the limit.
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"The harness ran past {Limit} with {string.Join(' ', args)}.");
        }
        return (process.ExitCode, output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), errors.Result);
    }

    private static JsonElement Parse(string line) => JsonDocument.Parse(line).RootElement;

    [Test]
    public void OneConfigurationPrintsOneLineWithWhatTheIssueAsksFor()
    {
        var (code, lines, errors) = Run("--config", "scaling-t3-256", "--steps", "2", "--warmup", "0");
        Assert.That(code, Is.EqualTo(0), errors);
        Assert.That(lines, Has.Length.EqualTo(1), string.Join('\n', lines));
        var json = Parse(lines[0]);

        Assert.That(json.GetProperty("config").GetString(), Is.EqualTo("scaling-t3-256"));
        Assert.That(json.GetProperty("group").GetString(), Is.EqualTo("T(3)"));
        Assert.That(json.GetProperty("device").GetString(), Is.EqualTo("cpu"));
        Assert.That(json.GetProperty("batch").GetInt32(), Is.EqualTo(1));
        Assert.That(json.GetProperty("points").GetInt32(), Is.EqualTo(256));
        Assert.That(json.GetProperty("parameters").GetInt64(), Is.GreaterThan(0));

        // The median of the timed steps, which are listed.
        var steps = json.GetProperty("train_steps_ms").EnumerateArray().Select(s => s.GetDouble()).ToList();
        Assert.That(steps, Has.Count.EqualTo(2));
        Assert.That(steps, Has.All.GreaterThan(0));
        Assert.That(json.GetProperty("train_ms").GetDouble(), Is.InRange(steps.Min(), steps.Max()));
        Assert.That(json.GetProperty("inference_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(json.GetProperty("train_steps_resident_mb").GetArrayLength(), Is.EqualTo(2));

        // Peak RSS of a process that loaded libtorch and trained: at least tens of MB; the timed steps' own peak no
        // more than the whole process's.
        Assert.That(json.GetProperty("memory_kind").GetString(), Is.EqualTo("peak_rss"));
        double peak = json.GetProperty("peak_memory_mb").GetDouble();
        Assert.That(peak, Is.GreaterThan(50));
        Assert.That(json.GetProperty("step_peak_memory_mb").GetDouble(), Is.GreaterThan(0).And.LessThanOrEqualTo(peak + 1));

        Assert.That(json.GetProperty("retain_freed_memory").GetBoolean(), Is.EqualTo(OperatingSystem.IsLinux()));
        Assert.That(json.GetProperty("calibration_gflops").GetDouble(), Is.GreaterThan(0));
        Assert.That(json.GetProperty("host").GetString(), Does.Contain("logical processors"));
        Assert.That(json.GetProperty("host_synchronisation").ValueKind, Is.EqualTo(JsonValueKind.Null), "checked on CUDA only");
        // Scaling rows have no published number of the original's.
        Assert.That(json.GetProperty("original_train_ms").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public void SeveralConfigurationsRunInTurnEachInItsOwnProcess()
    {
        var (code, lines, errors) = Run("--config", "springs-fc,scaling-t3-256", "--steps", "1", "--warmup", "0", "--release-memory");
        Assert.That(code, Is.EqualTo(0), errors);
        Assert.That(lines.Select(l => Parse(l).GetProperty("config").GetString()), Is.EqualTo(new[] { "springs-fc", "scaling-t3-256" }));
        var springs = Parse(lines[0]);
        var scaling = Parse(lines[1]);

        // The original's numbers from the issue ride along for comparison.
        Assert.That(springs.GetProperty("original_train_ms").GetDouble(), Is.EqualTo(38));
        Assert.That(springs.GetProperty("original_inference_ms").GetDouble(), Is.EqualTo(12));
        Assert.That(springs.GetProperty("original_peak_mb").GetDouble(), Is.EqualTo(800));
        Assert.That(springs.GetProperty("batch").GetInt32(), Is.EqualTo(200));
        Assert.That(springs.GetProperty("points").GetInt32(), Is.EqualTo(6));

        // The parameter count is the network's: FC, k 256, 4 layers, as the issue's configuration says.
        using var network = new DynamicsNetworkOptions { Network = DynamicsNetworkKind.FC, Channels = 256, Layers = 4 }.Create();
        long expected = network.parameters().Sum(p => p.numel());
        Assert.That(springs.GetProperty("parameters").GetInt64(), Is.EqualTo(expected));

        // --release-memory reaches each child: glibc's own behaviour, not the retained heap.
        Assert.That(springs.GetProperty("retain_freed_memory").GetBoolean(), Is.False);
        Assert.That(scaling.GetProperty("retain_freed_memory").GetBoolean(), Is.False);
        Assert.That(scaling.GetProperty("train_steps_ms").GetArrayLength(), Is.EqualTo(1), "--steps reaches each child too");
    }

    [Test]
    public void AnUnknownConfigurationIsNamedAndNothingRuns()
    {
        var (code, lines, errors) = Run("--config", "scaling-t3-256,no-such-net", "--steps", "1");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(lines, Is.Empty, "no configuration runs when one name is wrong");
        Assert.That(errors, Does.Contain("'no-such-net'").And.Contain("Configurations:").And.Contain("scaling-t3-128k"));
    }

    [Test]
    public void ABadCountIsAnErrorWithTheUsage()
    {
        var (code, lines, errors) = Run("--steps", "0");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(lines, Is.Empty);
        Assert.That(errors, Does.Contain("--steps needs a whole number ≥ 1; got '0'").And.Contain("Usage:"));
    }

    [Test]
    public void AnUnavailableDeviceIsOneMessageBeforeAnythingRuns()
    {
        if (cuda.is_available()) Assert.Ignore("This machine has CUDA; the test is for one without.");
        var (code, lines, errors) = Run("--device", "cuda", "--config", "springs-fc");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(lines, Is.Empty);
        Assert.That(errors, Does.Contain("CUDA"));
    }
}
