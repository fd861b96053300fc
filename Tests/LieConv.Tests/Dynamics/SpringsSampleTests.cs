using System.Text.Json;
using LieConv.Samples.Springs;
using LieConv.Tests.MLNet;
using NUnit.Framework;

namespace LieConv.Tests.Dynamics;

/// <summary>The Springs sample end to end, in-process, on tiny settings.</summary>
[TestFixture]
public sealed class SpringsSampleTests : TempFolderFixture
{
    private (int Code, string[] Lines) Run(params string[] args)
    {
        var output = new StringWriter();
        int code = SpringsApp.Run([.. args, "--out", Folder, "--threads", "1"], output);
        return (code, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Test]
    public void TinyRun_EndsWithAJsonResultLine_AndWritesModelAndPlots()
    {
        var (code, lines) = Run("--network", "HFC", "--n-train", "40", "--test-size", "20", "--epochs", "1", "--bs", "20",
            "--val-size", "10", "--rollout-systems", "4", "--net_config", "{'k':32,'num_layers':2}", "--micro-batches", "2");
        Assert.That(code, Is.EqualTo(0), string.Join("\n", lines));
        using var result = JsonDocument.Parse(lines[^1]);
        var root = result.RootElement;
        Assert.That(root.GetProperty("dataset").GetString(), Is.EqualTo("springs"));
        Assert.That(root.GetProperty("network").GetString(), Is.EqualTo("HFC"));
        Assert.That(root.GetProperty("k").GetInt32(), Is.EqualTo(32));
        Assert.That(root.GetProperty("train_size").GetInt32(), Is.EqualTo(40));
        Assert.That(root.GetProperty("micro_batches").GetInt32(), Is.EqualTo(2));
        double mse = root.GetProperty("test_mse").GetDouble();
        Assert.That(mse, Is.GreaterThan(0).And.LessThan(10));
        Assert.That(double.IsFinite(root.GetProperty("rollout_mse_100").GetDouble()), Is.True);
        Assert.That(root.GetProperty("reload_identical").GetBoolean(), Is.True);
        foreach (var file in new[] { "model.zip", "training-curve.png", "trajectories.png" })
            Assert.That(new FileInfo(Path.Combine(Folder, file)).Length, Is.GreaterThan(1000), file);
    }

    [Test]
    public void UnknownNetworkOrConfigKey_ExitsWithAnErrorNamingIt()
    {
        var (code, lines) = Run("--network", "CNN");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(string.Join("\n", lines), Does.Contain("Unknown dynamics network 'CNN'"));
        (code, lines) = Run("--net-config", "{'depth':3}");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(string.Join("\n", lines), Does.Contain("net_config key 'depth'"));
    }
}
