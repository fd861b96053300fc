using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

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
}
