using LieConv.Models;
using LieConv.Models.Dynamics;
using LieConv.Nn;
using LieConv.Runtime;
using LieConv.Tests.Dynamics;
using LieConv.Tests.Nn;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Runtime;

/// <summary>
/// The routes a GPU takes, run on the CPU (<see cref="HostReads.ActAsAccelerator"/>): a training step of every kind
/// of network reads nothing on the host (issue 7: no host synchronisation inside a step), and the GPU routes compute
/// what the CPU routes compute. CI has no GPU, so this is where those routes are tested at all.
/// </summary>
[TestFixture]
public sealed class AcceleratorRoutesTests : SingleThreadedFixture
{
    /// <summary>A small network of each kind and its output on fixed inputs.</summary>
    public sealed record Case(string Name, Func<(nn.Module Model, Func<Tensor> Output)> Build, bool DrawsMatterInTraining)
    {
        public override string ToString() => Name;
    }

    private static IEnumerable<Case> Cases()
    {
        // Image grids share their geometry: in-ball candidates and compact kernel tables on the CPU, every point a
        // candidate on a GPU. Without subsampling, so that both routes keep the same points (ties on a grid).
        yield return new Case("T(2) images", () =>
        {
            var net = new ImageLieResNet(new ImageLieResNetOptions
            {
                Group = "T(2)", Classes = 4, Layers = 2, Channels = 16, TotalDownsample = 1, Neighbourhood = 6, Fill = 0.05,
            });
            var images = randn(3, 1, 28, 28);
            return (net, () => net.forward(images));
        }, DrawsMatterInTraining: true);
        // Lifts with their own rotations: lower-bounded balls and the shared bound table on the CPU, blocks on a GPU;
        // farthest point subsampling on the device on both.
        yield return new Case("SE(2) images, 2 lifts, subsampled", () =>
        {
            var net = new ImageLieResNet(new ImageLieResNetOptions
            {
                Group = "SE2(.05)", Classes = 4, Layers = 2, Channels = 16, TotalDownsample = 0.5, Neighbourhood = 6, Fill = 0.1, LiftSamples = 2,
            });
            var images = randn(2, 1, 28, 28);
            return (net, () => net.forward(images));
        }, DrawsMatterInTraining: true);
        // Padded molecules: real rows only and the fused batch norm on the CPU, the dense batch on a GPU. Fill 1 with
        // a neighbourhood larger than any molecule chooses every atom, so training draws cannot differ.
        yield return new Case("T(3) molecules with padding", () =>
        {
            var net = new MoleculeLieResNet(new MoleculeLieResNetOptions
            {
                Species = new[] { 1, 6, 8 }, Group = "T(3)", Channels = 16, Layers = 2, Neighbourhood = 100, Fill = 1,
            });
            var charges = tensor(new float[,] { { 6, 1, 1, 8, 1, 0, 0 }, { 1, 6, 8, 0, 0, 0, 0 }, { 6, 6, 1, 1, 1, 1, 8 } });
            var positions = randn(3, 7, 3) * 1.5;
            return (net, () => net.forward(new MoleculeBatch(positions, charges)));
        }, DrawsMatterInTraining: false);
        yield return new Case("SE(3) molecules, 2 lifts", () =>
        {
            var net = new MoleculeLieResNet(new MoleculeLieResNetOptions
            {
                Species = new[] { 1, 6, 8 }, Group = "SE3(.2)", Channels = 16, Layers = 2, Neighbourhood = 4, Fill = 0.5, LiftSamples = 2,
            });
            var charges = tensor(new float[,] { { 6, 1, 1, 8, 1, 0 }, { 1, 6, 8, 1, 6, 1 } });
            var positions = randn(2, 6, 3) * 1.5;
            return (net, () => net.forward(new MoleculeBatch(positions, charges)));
        }, DrawsMatterInTraining: true);
        // Generic clouds with padding, subsampled: farthest points on the host and real rows on the CPU, device steps
        // and the dense batch on a GPU (random points: no ties for the two samplers to break differently).
        yield return new Case("T(2) clouds with padding, subsampled", () =>
        {
            var net = Net("T(2)", layers: 2, width: 16, downsample: 0.5, neighbourhood: 6, fill: 0.3);
            var clouds = AppendPadding(RandomClouds(3, 40, 2, 2), 6);
            return (net, () => net.forward(clouds));
        }, DrawsMatterInTraining: true);
        // Large enough for the spatial grid's k nearest on the CPU; all-pairs blocks on a GPU. kNN draws nothing.
        yield return new Case("T(3) kNN, 4,200 points", () =>
        {
            var net = Net("T(3)", layers: 1, width: 8, knn: true, neighbourhood: 8);
            var clouds = RandomClouds(1, 4200, 3, 2, scale: 10);
            return (net, () => net.forward(clouds));
        }, DrawsMatterInTraining: false);
        // Second derivatives through the layers (the field is ∂H); fill 1 with 4 particles chooses every particle.
        yield return new Case("springs HLieResNet", () =>
        {
            var net = new DynamicsNetworkOptions { Network = DynamicsNetworkKind.HLieResNet, Particles = 4, Channels = 16, Layers = 2 }.Create();
            var (z, sysP) = SpringsTestData.RandomInputs(3, 4);
            return (net, () => IntegratedDynamics.Predict(net, z, sysP, linspace(0, 0.04, 3)));
        }, DrawsMatterInTraining: false);
    }

    [TestCaseSource(nameof(Cases))]
    public void TrainingStep_OnTheGpuRoutes_ReadsNothingOnTheHost(Case network)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var (model, output) = network.Build();
        model.train();

        long before = HostReads.Count;
        Step(model, output);
        Assert.That(HostReads.Count, Is.GreaterThan(before), "the CPU routes read sizes on the host (else this test proves nothing)");

        before = HostReads.Count;
        using (HostReads.ActAsAccelerator())
            Step(model, output);   // a host read would throw
        Assert.That(HostReads.Count, Is.EqualTo(before));
        foreach (var p in model.parameters().Where(p => p.grad is not null))
            Assert.That(p.grad!.isfinite().all().item<bool>(), Is.True, "finite gradients");
    }

    [TestCaseSource(nameof(Cases))]
    public void Evaluation_OnTheGpuRoutes_GivesTheCpuRoutesOutputs(Case network)
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var (model, output) = network.Build();
        // Training passes shrink the radii from their initial 2 towards the fill, so that balls end inside the clouds.
        model.train();
        using (no_grad())
            for (int i = 0; i < 6; i++) output();
        RandomiseRunningStatistics(model);
        AmplifyWeights(model);   // else an untrained network's pooled output barely sees which neighbours were drawn
        model.eval();
        var onCpu = Values(output());
        double[] onGpu;
        using (HostReads.ActAsAccelerator())
            onGpu = Values(output());
        Assert.That(onGpu, Is.EqualTo(onCpu).Within(1e-4 * Math.Max(1, onCpu.Max(Math.Abs))));
    }

    /// <summary>
    /// Networks whose training draws cannot change the result: the others draw from libtorch's generator, which the
    /// two routes consume differently, and are compared in evaluation, where draws come from counter sources.
    /// </summary>
    private static IEnumerable<Case> DrawFreeCases() => Cases().Where(c => !c.DrawsMatterInTraining);

    [TestCaseSource(nameof(DrawFreeCases))]
    public void Training_OnTheGpuRoutes_GivesTheCpuRoutesOutputsGradientsAndStatistics(Case network)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var (model, output) = network.Build();
        var start = model.state_dict().ToDictionary(e => e.Key, e => e.Value.clone());
        long fusedBefore = MaskedBatchNorm.FusedMinimumEntries;

        (double[] Output, List<double[]> Grads, List<double[]> Buffers) Run(bool asAccelerator)
        {
            CopyState(model, start);
            model.train();
            manual_seed(6);   // the same augmentation draws (molecules are rotated at random in training)
            using var acting = asAccelerator ? HostReads.ActAsAccelerator() : null;
            foreach (var p in model.parameters()) p.grad = null;
            var result = output();
            result.square().sum().backward();
            return (Values(result), model.parameters().Select(p => p.grad is null ? Array.Empty<double>() : Values(p.grad)).ToList(),
                model.buffers().Select(Values).ToList());
        }

        // Every batch norm takes libtorch's fused kernels on the CPU route, as large tensors do.
        MaskedBatchNorm.FusedMinimumEntries = 0;
        try
        {
            var cpu = Run(asAccelerator: false);
            var gpu = Run(asAccelerator: true);
            double scale = Math.Max(1, cpu.Output.Max(Math.Abs));
            Assert.That(gpu.Output, Is.EqualTo(cpu.Output).Within(1e-4 * scale), "outputs");
            for (int i = 0; i < cpu.Grads.Count; i++)
            {
                double gradScale = cpu.Grads[i].Length == 0 ? 1 : Math.Max(cpu.Grads[i].Max(Math.Abs), 1e-2);
                Assert.That(gpu.Grads[i].Select(g => g / gradScale), Is.EqualTo(cpu.Grads[i].Select(g => g / gradScale)).Within(1e-3), $"gradient {i}");
            }
            for (int i = 0; i < cpu.Buffers.Count; i++)
                Assert.That(gpu.Buffers[i], Is.EqualTo(cpu.Buffers[i]).Within(1e-4), $"buffer {i} (running statistics, radii)");
        }
        finally { MaskedBatchNorm.FusedMinimumEntries = fusedBefore; }
    }

    [Test]
    public void ActingAsAccelerator_MakesEveryHostReadThrow_AndEndsWithItsScope()
    {
        var t = tensor(new long[] { 3, 0, 5 });
        Assert.That(HostReads.AreFree(t), Is.True);
        using (HostReads.ActAsAccelerator())
        {
            Assert.That(HostReads.AreFree(t), Is.False);
            Assert.That(() => HostReads.Item<long>(t.max(), "the largest count"),
                Throws.InvalidOperationException.With.Message.Contains("the largest count"));
            Assert.That(() => HostReads.Values<long>(t, "counts"), Throws.InvalidOperationException);
            Assert.That(() => HostReads.TrueIndices(t > 0, "positive counts"), Throws.InvalidOperationException);
        }
        Assert.That(HostReads.AreFree(t), Is.True);
        Assert.That(HostReads.Item<long>(t.max(), "the largest count"), Is.EqualTo(5));
        Assert.That(HostReads.Values<long>(t, "counts"), Is.EqualTo(new long[] { 3, 0, 5 }));
        Assert.That(Indices(HostReads.TrueIndices((t > 0).view(1, 3), "positive counts")), Is.EqualTo(new long[] { 0, 2 }));
    }

    /// <summary>
    /// The layers read tensor values on the host only through <see cref="HostReads"/>, so that the GPU routes above
    /// are known to read nothing: any other read in their source fails here.
    /// </summary>
    [Test]
    public void Layers_ReadTensorValuesOnlyThroughHostReads()
    {
        var root = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "LieConv.MLNet.sln"))) root = root.Parent;
        if (root is null) Assert.Ignore("The repository's sources are not above this build, so the layers' source cannot be read.");
        var core = Path.Combine(root!.FullName, "LieConv.Core");
        string[] reads = { ".item<", ".data<", ".nonzero(", "masked_select", ".unique(", "bincount", "argwhere", ".tolist(", ".bytes" };
        var offenders =
            from folder in new[] { "Nn", "Groups", "Models" }
            from file in Directory.EnumerateFiles(Path.Combine(core, folder), "*.cs", SearchOption.AllDirectories)
            from line in File.ReadLines(file).Select((text, index) => (text, number: index + 1))
            where !line.text.TrimStart().StartsWith("//") && reads.Any(line.text.Contains)
            select $"{Path.GetRelativePath(core, file)}:{line.number}: {line.text.Trim()}";
        Assert.That(offenders, Is.Empty, "read through HostReads, which GPU routes must not reach");
    }

    private static void Step(nn.Module model, Func<Tensor> output)
    {
        foreach (var p in model.parameters()) p.grad = null;
        output().square().mean().backward();
    }

    private static void CopyState(nn.Module model, Dictionary<string, Tensor> state)
    {
        using var noGrad = no_grad();
        foreach (var (name, value) in model.state_dict()) value.copy_(state[name]);
    }
}
