using LieConv.Runtime;

namespace LieConv.Nn;

/// <summary>
/// The random sources of a module that samples (lifts, subsampling starts, neighbourhoods): one while training,
/// one for evaluation. A network gives each of its modules its own, so their draws are independent.
/// </summary>
/// <param name="Training">Draws while the module is in training mode.</param>
/// <param name="Evaluation">Draws in evaluation mode: a counter source makes predictions reproducible (the default).</param>
public sealed record Sampling(RandomSource Training, RandomSource Evaluation)
{
    /// <summary>Training draws from libtorch's global generator; evaluation from a counter source seeded from <paramref name="evaluationSeed"/> and <paramref name="purpose"/>, or also from the global generator when the seed is null.</summary>
    public static Sampling Create(long? evaluationSeed, string purpose) => new(
        RandomSource.FromGenerator(),
        evaluationSeed is long seed ? RandomSource.Counter(TorchRuntime.DeriveSeed(seed, purpose)) : RandomSource.FromGenerator());

    /// <summary>The source for a module in training (<paramref name="training"/> true) or evaluation mode.</summary>
    public RandomSource For(bool training) => training ? Training : Evaluation;
}
