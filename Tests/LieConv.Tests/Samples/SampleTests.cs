using System.Text.Json;
using LieConv.Samples;
using LieConv.Samples.Qm9;
using LieConv.Samples.RotMnist;
using LieConv.Tests.MLNet;
using NUnit.Framework;

namespace LieConv.Tests.Samples;

/// <summary>Each sample runs end to end on tiny settings, in-process, and ends with its JSON result line.</summary>
[TestFixture]
public class SampleTests : TempFolderFixture
{
    private static (int ExitCode, string Output, JsonElement? Result) Run(Func<string[], TextWriter, int> app, params string[] args)
    {
        var output = new StringWriter();
        int code = app(args, output);
        string text = output.ToString();
        string last = text.TrimEnd().Split('\n').Last().Trim();
        JsonElement? result = last.StartsWith('{') ? JsonDocument.Parse(last).RootElement : null;
        return (code, text, result);
    }

    [Test]
    public void RotMnistTrainsOnTheBuiltInSetWithTheOriginalSpellings()
    {
        var (code, output, result) = Run(RotMnistApp.Run,
            "--num_epochs", "1", "--bs", "10", "--split", "{'train':30}", "--test-size", "20", "--seed", "3",
            "--net_config", "{'k':8,'num_layers':1,'nbhd':8,'group':SO2(.2),'total_ds':1/2}", "--out", Folder);
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(result, Is.Not.Null, output);
        var json = result!.Value;
        Assert.That(json.GetProperty("dataset").GetString(), Is.EqualTo("rotmnist"));
        Assert.That(json.GetProperty("group").GetString(), Is.EqualTo("SO2(.2)"));
        Assert.That(json.GetProperty("train_size").GetInt32(), Is.EqualTo(30), "--split {'train':30}");
        Assert.That(json.GetProperty("test_size").GetInt32(), Is.EqualTo(20));
        Assert.That(json.GetProperty("epochs").GetInt32(), Is.EqualTo(1));
        Assert.That(json.GetProperty("augmentation").GetString(), Is.EqualTo("none"), "an SO(2) network is invariant to the rotations");
        Assert.That(json.GetProperty("test_error").GetDouble(), Is.InRange(0.0, 1.0));
        Assert.That(File.Exists(Path.Combine(Folder, "model.zip")), Is.True);
        Assert.That(new FileInfo(Path.Combine(Folder, "training.png")).Length, Is.GreaterThan(1000));
        Assert.That(output, Does.Contain("Reloaded").And.Contain("epoch 1"));
    }

    [TestCase("T(2)", true)]
    [TestCase("Trivial(2)", true)]
    [TestCase("Tx(2)", true)]
    [TestCase("Rx(.1)", true)]
    [TestCase("SO2(.2)", false)]
    [TestCase("RxSO2(.3)", false)]
    [TestCase("SE2(.05)", false)]
    public void RotMnistAugmentsByDefaultOnlyGroupsWithoutTheRotations(string group, bool augments)
        => Assert.That(RotMnistApp.AugmentsByDefault(group), Is.EqualTo(augments));

    [Test]
    public void Qm9TrainsOnAnNpzSplit()
    {
        string npz = TestData.RequireSharedFile("qm9/lieconv_npz/test.npz");
        var (code, output, result) = Run(Qm9App.Run,
            "--data", npz, "--task", "lumo", "--train-size", "30", "--valid-size", "10", "--test-size", "15", "--epochs", "1", "--bs", "15",
            "--k", "8", "--num_layers", "1", "--recenter", "--out", Folder);
        Assert.That(code, Is.EqualTo(0), output);
        var json = result!.Value;
        Assert.That(json.GetProperty("dataset").GetString(), Is.EqualTo("qm9"));
        Assert.That(json.GetProperty("task").GetString(), Is.EqualTo("lumo"));
        Assert.That(json.GetProperty("unit").GetString(), Is.EqualTo("eV"));
        Assert.That(json.GetProperty("test_size").GetInt32(), Is.EqualTo(15));
        Assert.That(json.GetProperty("test_mae").GetDouble(), Is.GreaterThan(0).And.LessThan(20));
        Assert.That(File.Exists(Path.Combine(Folder, "model.zip")), Is.True);
    }

    [Test]
    public void Qm9WithoutDataExplainsWhereToGetItAndFails()
    {
        var (code, output, result) = Run(Qm9App.Run, "--out", Folder);
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(result, Is.Null);
        Assert.That(output, Does.Contain("--data").And.Contain("dsgdb9nsd.xyz.tar.bz2").And.Contain("--download"));
    }

    [Test]
    public void UnknownFlagIsAnError()
    {
        var (code, output, _) = Run(RotMnistApp.Run, "--no-such-flag", "--out", Folder);
        Assert.That(code, Is.Not.EqualTo(0));
        Assert.That(output, Does.Contain("--no-such-flag"));
    }

    [TestCase("--group", "SE4(1)", "'SE4(1)' is not a valid group spec")]
    [TestCase("--fill", "abc", "'abc' is not a number")]
    [TestCase("--net_config", "{'width':3}", "net_config key 'width' is not known")]
    public void AMalformedValueIsOneErrorLineWithoutAStackTrace(string flag, string value, string message)
    {
        var (code, output, result) = Run(RotMnistApp.Run, flag, value, "--out", Folder);
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(result, Is.Null);
        Assert.That(output.Trim(), Does.StartWith("error: ").And.Contain(message), "the message, first and alone");
        Assert.That(output, Does.Not.Contain("   at "), "no stack trace");
    }

    [Test]
    public void Qm9ReportsAMalformedValueInOneLineToo()
    {
        var (code, output, _) = Run(Qm9App.Run, "--data", Folder, "--split", "{'train':'many'}", "--out", Folder);
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output.Trim(), Does.StartWith("error: ").And.Contain("'many' is not a number"));
        Assert.That(output, Does.Not.Contain("   at "));
        string corrupt = Path.Combine(Folder, "train.npz");
        File.WriteAllText(corrupt, "not a zip of .npy arrays");
        (code, output, _) = Run(Qm9App.Run, "--data", corrupt, "--out", Folder);
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output.Trim(), Does.StartWith("error: ").And.Contain("train.npz"), "names the file");
        Assert.That(output, Does.Not.Contain("   at "));
    }

    [Test]
    public void NetConfigMergesOverDefaultsAndFlagsWin()
    {
        var options = new SampleOptions(1, 1, 1, 1, 1, Folder);
        var root = new System.CommandLine.RootCommand();
        options.AddTo(root);
        var parsed = root.Parse(["--net_config", "{'k':128,'group':SE2(.05),'fill':1/2,'liftsamples':2}", "--k", "64"]);
        var network = options.Network(parsed, RotMnistApp.DefaultNetwork);
        Assert.That(network, Is.EqualTo(RotMnistApp.DefaultNetwork with { K = 64, Group = "SE2(.05)", Fill = 0.5, LiftSamples = 2 }));
        Assert.Throws<FormatException>(() => options.Network(root.Parse(["--net_config", "{'width':3}"]), RotMnistApp.DefaultNetwork));
        // train_springs spells it --net_cfg.
        Assert.That(options.Network(root.Parse(["--net_cfg", "{'k':256}"]), RotMnistApp.DefaultNetwork).K, Is.EqualTo(256));
    }

    [TestCase("{'k':128,'group':SE2(.05)}", "k=128;group=SE2(.05)")]
    [TestCase("{\"train\": 12000}", "train=12000")]
    [TestCase("{'a':(1, 2),'b':'x,y'}", "a=(1, 2);b=x,y")]
    public void OriginalDictsParse(string text, string expected)
        => Assert.That(string.Join(";", OriginalSyntax.ParseDict(text).Select(kv => $"{kv.Key}={kv.Value}")), Is.EqualTo(expected));

    [TestCase("1/2", 0.5)]
    [TestCase(".05", 0.05)]
    [TestCase("3e-3", 0.003)]
    public void OriginalNumbersParse(string text, double expected) => Assert.That(OriginalSyntax.ParseNumber(text), Is.EqualTo(expected));
}
