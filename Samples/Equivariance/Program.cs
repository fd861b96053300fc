// A tour of the group library: for every group of the original README commands, measure how exactly the
// library keeps its promises on random data — exp against a generic matrix exponential, log∘exp, and the
// invariance of the kernel inputs log(v⁻¹u) under the group's own action — and, for contrast, how far the
// trivial group is from being rotation invariant.
using System.Diagnostics;
using System.Globalization;
using LieConv.Groups;
using LieConv.Runtime;
using TorchSharp;
using static TorchSharp.torch;

var options = Options.Parse(args);
if (options is null) return 2;

TorchRuntime.SeedEverything(options.Seed);
var device = TorchRuntime.ResolveDevice(options.Device);
var dtype = options.Double ? ScalarType.Float64 : ScalarType.Float32;
Console.WriteLine($"LieConv.NET group tour: {options.Points} points per cloud, {options.Clouds} clouds, {dtype} on {device}, seed {options.Seed}");
Console.WriteLine();
Console.WriteLine("Relative errors (max |error| / max(1, max |value|)) of exp against a generic matrix exponential,");
Console.WriteLine("exp∘log on group elements, and the kernel inputs v⁻¹u of a cloud against the same cloud moved by g:");
Console.WriteLine($"{"group",-22}{"dim",4}{"q",3}{"exp vs expm",14}{"exp∘log",12}{"pair invariance",17}{"ms",8}");

foreach (var spec in options.Groups)
{
    var group = LieGroup.Parse(spec);
    var clock = Stopwatch.StartNew();
    using var scope = NewDisposeScope();

    // exp against libtorch's generic matrix exponential of the algebra matrix; log as its inverse on elements.
    var a = (rand(256, group.LieDim, dtype: dtype, device: device) * 2 - 1) * 2.5;
    var element = group.Exp(a);
    double expError = Relative(element, linalg.matrix_exp(group.Hat(a)));
    double logError = Relative(group.Exp(group.Log(element)), element);

    // Kernel inputs for a cloud and for the same cloud moved by a random group element, with matching lifts.
    int samples = group.HasRandomLift ? 2 : 1;
    var x = randn(options.Clouds, options.Points, group.SpaceDim, dtype: dtype, device: device);
    var g = group.Exp((rand(group.LieDim, dtype: dtype, device: device) * 2 - 1) * 2);
    var stabilizer = group.SampleStabilizer(x, samples, RandomSource.FromGenerator(TorchRuntime.CreateGenerator(options.Seed, "lift", device)));
    var movedLift = group.Log(matmul(matmul(group.Inverse(group.Exp(group.Section(group.Act(g, x)))), g).unsqueeze(-3),
        group.Exp(group.Compose(group.Section(x).unsqueeze(-2), stabilizer))));
    var before = Pairs(group, group.Lift(x, stabilizer));
    var after = Pairs(group, group.Lift(group.Act(g, x), movedLift));
    double invariance = Relative(group.Exp(group.SplitPairFeatures(after).Pair), group.Exp(group.SplitPairFeatures(before).Pair));

    Console.WriteLine($"{group,-22}{group.LieDim,4}{group.QDim,3}{expError,14:E1}{logError,12:E1}{invariance,17:E1}{clock.Elapsed.TotalMilliseconds,8:F0}");
}

// Contrast: the trivial group sees absolute positions, so rotating the cloud changes what its kernels see.
{
    using var scope = NewDisposeScope();
    var trivial = new Trivial(2);
    var x = randn(options.Clouds, options.Points, 2, dtype: dtype, device: device);
    var rotation = new SO2().Exp(tensor(new[] { 0.7 }, dtype: dtype, device: device));
    double change = MaxAbs(Pairs(trivial, trivial.Lift(new SO2().Act(rotation, x))) - Pairs(trivial, trivial.Lift(x)));
    Console.WriteLine();
    Console.WriteLine($"Trivial(2) under a 0.7 rad rotation: kernel inputs change by up to {change:F3} (not invariant, as expected).");
}
return 0;

static Tensor Pairs(LieGroup group, LiftedPoints lifted) => group.PairFeatures(
    lifted.Elements.unsqueeze(-2), lifted.Orbits.unsqueeze(-2), lifted.Elements.unsqueeze(-3), lifted.Orbits.unsqueeze(-3));

static double MaxAbs(Tensor t) => t.numel() == 0 ? 0 : t.abs().max().to(ScalarType.Float64).item<double>();

static double Relative(Tensor actual, Tensor expected) => MaxAbs(actual - expected) / Math.Max(1, MaxAbs(expected));

internal sealed record Options(string[] Groups, int Points, int Clouds, long Seed, string Device, bool Double)
{
    private static readonly string[] ReadmeGroups =
        { "Trivial(2)", "T(2)", "Tx(2)", "Ty(2)", "Rx(.1)", "SO2(.2)", "RxSO2(.3)", "SE2(.05)", "Trivial(3)", "T(3)", "SO3(.2)", "SE3(.2)" };

    public static Options? Parse(string[] args)
    {
        var options = new Options(ReadmeGroups, 64, 4, 0, "cpu", false);
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                options = args[i] switch
                {
                    "--groups" => options with { Groups = Value().Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                    "--points" => options with { Points = int.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--clouds" => options with { Clouds = int.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--seed" => options with { Seed = long.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--device" => options with { Device = Value() },
                    "--float64" => options with { Double = true },
                    _ => throw new ArgumentException($"unknown option '{args[i]}'"),
                };
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                Console.Error.WriteLine("usage: Equivariance [--groups \"SE2(.05);T(2)\"] [--points 64] [--clouds 4] [--seed 0] [--device cpu|cuda|cuda:N] [--float64]");
                return null;
            }
        }
        return options;
    }
}
