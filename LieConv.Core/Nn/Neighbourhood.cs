using static TorchSharp.torch;

namespace LieConv.Nn;

/// <summary>
/// The neighbours chosen for each query point of a layer: each query's <see cref="Candidates"/> and, when clouds
/// share their geometry, which of them each cloud took (<see cref="Choice"/>).
/// </summary>
/// <remarks>
/// When every cloud of a batch has the same points (a fixed image grid), the candidates of a query are the same
/// for every cloud, so anything that depends only on a (query, candidate) pair — its pair features and kernel
/// values — is computed once per pair instead of once per cloud; <see cref="PairUsage"/> says how often each
/// pair is used, which is what batch statistics over the used pairs need.
/// </remarks>
public sealed class Neighbourhood
{
    /// <summary>A neighbourhood over <paramref name="candidates"/>, of which each cloud takes those at <paramref name="choice"/> (null: all of them).</summary>
    /// <param name="candidates">(B or 1, m, c) indices of each query's candidate neighbours among the layer's input points; batch 1 when shared.</param>
    /// <param name="choice">(B, m, k) positions among the candidates of each cloud's neighbours, or null when the candidates are the neighbours.</param>
    /// <param name="valid">(B or 1, m, k) whether each chosen neighbour really belongs to the neighbourhood.</param>
    /// <param name="inBallCount">(B or 1, m) points inside the ball of each query (ball mode), for the radius update.</param>
    public Neighbourhood(Tensor candidates, Tensor? choice, Tensor valid, Tensor? inBallCount)
    {
        Candidates = candidates;
        Choice = choice;
        Valid = valid;
        InBallCount = inBallCount;
    }

    /// <summary>The same neighbourhood with its tensors moved out of the current dispose scope.</summary>
    internal Neighbourhood MoveToOuterDisposeScope() => new(Candidates.MoveToOuterDisposeScope(), Choice?.MoveToOuterDisposeScope(),
        Valid.MoveToOuterDisposeScope(), InBallCount?.MoveToOuterDisposeScope()) { InBallCandidatesFirst = InBallCandidatesFirst };

    /// <summary>Every tensor the neighbourhood holds, those it made on first use included.</summary>
    internal IEnumerable<Tensor> Tensors() =>
        new[] { Candidates, Choice, Valid, InBallCount, _indices, _chosenSlots }.OfType<Tensor>();

    /// <summary>(B or 1, m, c) candidate neighbours of each query; batch 1 when every cloud shares them.</summary>
    public Tensor Candidates { get; }

    /// <summary>(B, m, k) positions of each cloud's neighbours among <see cref="Candidates"/>; null when all candidates are taken.</summary>
    public Tensor? Choice { get; }

    /// <summary>(B or 1, m, k) indices of the neighbours among the layer's input points (made on first use, in the caller's dispose scope).</summary>
    public Tensor Indices => _indices ??= Choice is null ? Candidates : Candidates.expand(Choice.shape[0], -1, -1).gather(-1, Choice);

    private Tensor? _indices;

    /// <summary>(B or 1, m, k) whether each chosen neighbour really belongs to the neighbourhood.</summary>
    public Tensor Valid { get; }

    /// <summary>(B or 1, m) points inside the ball of each query (ball mode), for the radius update.</summary>
    public Tensor? InBallCount { get; }

    /// <summary>
    /// Whether each query's in-ball points come first among its shared candidates, so that only its first
    /// <see cref="InBallCount"/> candidates can ever be chosen (shared balls on the CPU); the rest is padding.
    /// </summary>
    public bool InBallCandidatesFirst { get; init; }

    /// <summary>
    /// (B or 1, m, c) how many valid neighbours of a batch of <paramref name="batchSize"/> clouds each (query,
    /// candidate) pair is: 0 or 1 per cloud, summed over the clouds that share it.
    /// </summary>
    public Tensor PairUsage(long batchSize, ScalarType dtype)
    {
        if (Choice is null)
        {
            var used = Valid.to(dtype);
            return Valid.shape[0] == batchSize ? used : used * (batchSize / Valid.shape[0]);
        }
        long m = Candidates.shape[1], c = Candidates.shape[2];
        return zeros(m * c, dtype: dtype, device: Choice.device)
            .index_add_(0, ChosenSlots(), Valid.expand(Choice.shape).to(dtype).flatten(), 1)
            .view(1, m, c);
    }

    /// <summary>
    /// (B·m·k) the position of each cloud's chosen neighbour among the m·c shared (query, candidate) slots (made on
    /// first use, in the caller's dispose scope; read by <see cref="PairUsage"/> and the kernel table lookup).
    /// </summary>
    internal Tensor ChosenSlots()
    {
        var choice = Choice ?? throw new InvalidOperationException("Only shared candidates are chosen among.");
        long m = Candidates.shape[1], c = Candidates.shape[2];
        return _chosenSlots ??= (choice + arange(m, dtype: ScalarType.Int64, device: choice.device).mul_(c).view(1, m, 1)).flatten();
    }

    private Tensor? _chosenSlots;
}
