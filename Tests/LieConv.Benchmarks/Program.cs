// Speed and memory benchmarks: one JSON line per configuration with the median time of a training step
// (forward, backward, Adam) and of an inference batch, the peak memory and the parameter count.
//
//   dotnet run -c Release --project Tests/LieConv.Benchmarks -- [--config NAME[,NAME…]] [--steps 10] [--warmup 2] [--device cpu] [--release-memory]
//
// Unless exactly one configuration is named, each runs in its own child process, so that each peak RSS is its own
// (VmHWM never falls, so configurations sharing a process would report the largest peak so far).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LieConv.Benchmarks;
using LieConv.Runtime;

var options = BenchmarkOptions.Parse(args);
if (options.Configs.Count != 1)
{
    // Re-run this program once per configuration; under "dotnet app.dll" the host needs the dll path first.
    var self = Environment.GetCommandLineArgs()[0];
    bool underHost = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet";
    var prefix = underHost && self.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? new[] { self } : Array.Empty<string>();
    var names = options.Configs.Count == 0 ? Configurations.All.Select(c => c.Name).ToList() : options.Configs;
    foreach (var name in names)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        string[] childArgs = ["--steps", options.Steps.ToString(CultureInfo.InvariantCulture), "--warmup", options.Warmup.ToString(CultureInfo.InvariantCulture),
            "--device", options.Device, "--config", name, .. (options.ReleaseMemory ? new[] { "--release-memory" } : [])];
        foreach (var argument in prefix.Concat(childArgs)) start.ArgumentList.Add(argument);
        using var child = Process.Start(start)!;
        string? line;
        while ((line = child.StandardOutput.ReadLine()) is not null) Console.WriteLine(line);
        child.WaitForExit();
        if (child.ExitCode != 0)
            Console.WriteLine(JsonSerializer.Serialize(new { config = name, error = $"exited with code {child.ExitCode}" + (child.ExitCode == 137 ? " (killed: out of memory)" : "") }));
    }
    return 0;
}

// As the samples do: freed CPU memory stays in the process (TorchRuntime.RetainFreedMemory); --release-memory measures glibc's default.
bool retained = !options.ReleaseMemory && TorchRuntime.RetainFreedMemory();
TorchRuntime.SeedEverything(0);
var device = TorchRuntime.ResolveDevice(options.Device);
foreach (var name in options.Configs)
{
    var known = Configurations.All.Concat(Configurations.OnRequest).ToList();
    var config = known.FirstOrDefault(c => c.Name == name)
        ?? throw new ArgumentException($"Unknown configuration '{name}'. Known: {string.Join(", ", known.Select(c => c.Name))}");
    var result = config.Run(device, options.Steps, options.Warmup) with { RetainFreedMemory = retained };
    Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
}
return 0;

internal sealed record BenchmarkOptions(List<string> Configs, int Steps, int Warmup, string Device, bool ReleaseMemory = false)
{
    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions(new List<string>(), 10, 2, "cpu");
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--config" => options with { Configs = options.Configs.Concat(Value().Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList() },
                "--steps" => options with { Steps = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--warmup" => options with { Warmup = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--device" => options with { Device = Value() },
                "--release-memory" => options with { ReleaseMemory = true },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'."),
            };
        }
        return options;
    }
}
