// Speed and memory benchmarks: one JSON line per configuration with the median time of a training step
// (forward, backward, Adam) and of an inference batch, the peak memory and the parameter count.
//
//   dotnet run -c Release --project Tests/LieConv.Benchmarks -- [--config NAME[,NAME…]] [--steps 10] [--warmup 2] [--device cpu] [--release-memory] [--help]
//
// Unless exactly one configuration is named, each runs in its own child process, so that each peak RSS is its own
// (VmHWM never falls, so configurations sharing a process would report the largest peak so far).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LieConv.Benchmarks;
using LieConv.Runtime;
using static TorchSharp.torch;

BenchmarkOptions options;
try
{
    options = BenchmarkOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchmarkOptions.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(BenchmarkOptions.Usage);
    return 0;
}
// Resolved before anything runs, so that a wrong or unavailable device is one message, not one failure per configuration.
Device device;
try
{
    device = TorchRuntime.ResolveDevice(options.Device);
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
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
foreach (var name in options.Configs)
{
    var config = Configurations.Known.First(c => c.Name == name);
    try
    {
        var result = config.Run(device, options.Steps, options.Warmup) with { RetainFreedMemory = retained };
        Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
    }
    catch (FileNotFoundException e)
    {
        // Data that is not on this machine (the QM9 rows read ../shared/data): the line says so and the others still run.
        Console.WriteLine(JsonSerializer.Serialize(new { config = name, skipped = e.Message }));
    }
}
return 0;

internal sealed record BenchmarkOptions(List<string> Configs, int Steps, int Warmup, string Device, bool ReleaseMemory = false, bool Help = false)
{
    public static string Usage =>
        $"""
        Usage: dotnet run -c Release --project Tests/LieConv.Benchmarks -- [options]
          --config NAME[,NAME…]  configurations to run (default: all of the first list below)
          --steps N              timed training steps and inference batches, N ≥ 1 (default 10; the step
                                 peak memory still grows for tens of steps: the README's table uses 40)
          --warmup N             untimed steps before timing, N ≥ 0 (default 2)
          --device cpu|cuda      where to run (default cpu)
          --release-memory       let glibc hand freed memory back (default: keep it, as the samples do)
          --help                 this text
        Configurations: {string.Join(", ", Configurations.All.Select(c => c.Name))}
        Only when named: {string.Join(", ", Configurations.OnRequest.Select(c => c.Name))}
        """;

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions(new List<string>(), 10, 2, "cpu");
        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{option} needs a value.");
            int Count(int least)
            {
                string text = Value();
                return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= least
                    ? value
                    : throw new ArgumentException($"{option} needs a whole number ≥ {least}; got '{text}'.");
            }
            options = option switch
            {
                "--config" => options with { Configs = options.Configs.Concat(Value().Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList() },
                "--steps" => options with { Steps = Count(1) },
                "--warmup" => options with { Warmup = Count(0) },
                "--device" => options with { Device = Value() },
                "--release-memory" => options with { ReleaseMemory = true },
                "--help" or "-h" => options with { Help = true },
                _ => throw new ArgumentException($"Unknown option '{option}'."),
            };
        }
        var unknown = options.Configs.Where(name => Configurations.Known.All(c => c.Name != name)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"Unknown configuration{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(n => $"'{n}'"))}.");
        return options;
    }
}
