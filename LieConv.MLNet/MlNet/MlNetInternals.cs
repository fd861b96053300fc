using LieConv.Runtime;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.MLNet.MlNet;

/// <summary>
/// Accessors for ML.NET state that has no public API. They compile only against the publicized
/// Microsoft.ML.Core/Data (build/Publicize.targets) and run only thanks to <c>IgnoresAccessChecksTo</c>,
/// so they also serve as the smoke test of that setup (mlnet-conventions.md §1-2, §9).
/// </summary>
internal static class MlNetInternals
{
    /// <summary>
    /// The environment behind a trainers catalog such as <c>mlContext.Regression.Trainers</c>, which our
    /// trainer extensions need to create their <see cref="IHost"/>.
    /// </summary>
    /// <param name="trainers">The catalog an extension method was called on.</param>
    internal static IHostEnvironment GetHostEnvironment(this TrainCatalogBase.CatalogInstantiatorBase trainers)
        => CatalogUtils.GetEnvironment(trainers);

    /// <summary>The environment behind <c>mlContext.Transforms</c>, for our transform extensions.</summary>
    /// <param name="transforms">The catalog an extension method was called on.</param>
    internal static IHostEnvironment GetHostEnvironment(this TransformsCatalog transforms)
        => CatalogUtils.GetEnvironment(transforms);

    /// <summary>
    /// The seed the <see cref="MLContext"/> was created with, or <see langword="null"/> when it has none
    /// (or <paramref name="env"/> is not ML.NET's own environment); trainers fall back to it when their
    /// options name no seed (mlnet-conventions.md §10).
    /// </summary>
    /// <param name="env">An environment, usually from <see cref="GetHostEnvironment(TransformsCatalog)"/>.</param>
    internal static int? GetSeed(this IHostEnvironment env)
        => (env as IHostEnvironmentInternal)?.Seed;

    /// <summary>
    /// The device the <see cref="MLContext"/> asks for (mlnet-conventions.md §10): <c>cuda:GpuDeviceId</c> when
    /// <c>GpuDeviceId</c> is set and that GPU is usable; the CPU when it is not set, or when it is not usable and
    /// <c>FallbackToCpu</c> is on.
    /// </summary>
    /// <exception cref="InvalidOperationException">A GPU was asked for, is not usable, and FallbackToCpu is off.</exception>
    internal static Device ResolveContextDevice(this IHostEnvironment env)
    {
        if (env is not IHostEnvironmentInternal { GpuDeviceId: int id } settings)
            return CPU;
        if (TorchRuntime.IsCudaAvailable() && id >= 0 && id < cuda.device_count())
            return new Device(DeviceType.CUDA, id);
        if (settings.FallbackToCpu)
            return CPU;
        throw new InvalidOperationException(
            $"MLContext.GpuDeviceId is {id}, but this process cannot use that CUDA device (is the app built with " +
            "-p:TorchBackend=cuda-linux or cuda-windows, and is the GPU present?); set MLContext.FallbackToCpu = true to run on the CPU instead.");
    }
}
