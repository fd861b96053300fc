using System.Globalization;
using System.Security.Cryptography;
using LieConv.Datasets.RotMnist;

// Regenerates the built-in RotMNIST files; all the work is BuiltinRotMnist.Generate (in LieConv.Datasets), which a
// test also calls to check that the committed files are reproducible. This program only parses the command line.

const string Usage = """
    Usage: MakeBuiltinRotMnist --images <t10k-images-idx3-ubyte.gz> --labels <t10k-labels-idx1-ubyte.gz> --out <folder>
                               [--seed <n>] [--train <count>] [--test <count>]

    Rotates the first train+test MNIST digits by seeded uniform angles in [0, 2π) and writes
    rotmnist-{train,test}-{images-idx3,labels-idx1}-ubyte.gz into the output folder, then prints their sizes and sha256.
    Defaults: the shipped set's seed, train and test counts (see Datasets/RotMnist/Builtin/README.md).
    """;

var options = new Dictionary<string, string>(StringComparer.Ordinal);
string[] known = ["--images", "--labels", "--out", "--seed", "--train", "--test"];
for (int i = 0; i < args.Length; i++)
{
    if (args[i] is "-h" or "--help")
    {
        Console.WriteLine(Usage);
        return 0;
    }

    if (!known.Contains(args[i]) || i + 1 >= args.Length)
    {
        return Fail(known.Contains(args[i]) ? $"{args[i]} needs a value." : $"Unknown argument '{args[i]}'.");
    }

    options[args[i]] = args[++i];
}

foreach (string required in new[] { "--images", "--labels", "--out" })
{
    if (!options.ContainsKey(required))
    {
        return Fail($"{required} is required.");
    }
}

if (!TryNumber("--seed", BuiltinRotMnist.Seed, out long seed) ||
    !TryNumber("--train", BuiltinRotMnist.TrainCount, out long train) || train is < 0 or > int.MaxValue ||
    !TryNumber("--test", BuiltinRotMnist.TestCount, out long test) || test is < 0 or > int.MaxValue)
{
    return Fail("--seed must be an integer, and --train and --test non-negative integers.");
}

try
{
    var paths = BuiltinRotMnist.Generate(options["--images"], options["--labels"], options["--out"], seed, (int)train, (int)test);
    long total = 0;
    foreach (string path in paths)
    {
        byte[] bytes = File.ReadAllBytes(path);
        total += bytes.Length;
        Console.WriteLine($"{Convert.ToHexStringLower(SHA256.HashData(bytes))}  {bytes.Length,9:N0} bytes  {Path.GetFileName(path)}");
    }

    Console.WriteLine($"{total:N0} bytes in total; seed {seed}, {train} train and {test} test images.");
    return 0;
}
catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

bool TryNumber(string name, long fallback, out long value)
{
    value = fallback;
    return !options.TryGetValue(name, out string? text) || long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);
}

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    Console.Error.WriteLine(Usage);
    return 2;
}
