using LieConv.Datasets.Springs;
using LieConv.Models.Dynamics;
using static TorchSharp.torch;

namespace LieConv.Tests.Dynamics;

/// <summary>Small generated spring sets as tensors, shared by the dynamics tests.</summary>
internal static class SpringsTestData
{
    /// <summary>Generates <paramref name="systems"/> systems of <paramref name="steps"/> states (seeded).</summary>
    public static SpringSystems Generate(int systems, int steps = 50, int particles = 6, long seed = 7) =>
        SpringsGenerator.Generate(new SpringsGeneratorOptions { Systems = systems, Steps = steps, Particles = particles, Seed = seed });

    /// <summary>The examples of <paramref name="split"/> as one float32 batch.</summary>
    public static DynamicsBatch Batch(SpringsDataset dataset, SpringsSplit split)
    {
        var rows = dataset.Examples(split).ToArray();
        int n = dataset.Systems.Particles, l = dataset.Options.ChunkLength, size = dataset.Systems.StateSize;
        long b = rows.Length;
        return new DynamicsBatch(
            tensor(rows.SelectMany(r => r.InitialState).ToArray(), [b, size]),
            tensor(rows.SelectMany(r => r.SystemParameters).ToArray(), [b, n, 2]),
            tensor(rows.SelectMany(r => r.Times).ToArray(), [b, l]),
            tensor(rows.SelectMany(r => r.Trajectory).ToArray(), [b, l, size]));
    }

    /// <summary>Random float32 states and plausible parameters (masses in [0.1, 3.1], spring constants in [0, 5]).</summary>
    public static (Tensor Z, Tensor SysP) RandomInputs(int batch, int particles, int d = 2)
    {
        var z = randn(batch, 2 * particles * d);
        var sysP = stack([rand(batch, particles) * 3 + 0.1, rand(batch, particles) * 5], dim: -1);
        return (z, sysP);
    }
}
