using LieConv.Runtime;
using Microsoft.ML.Data;

namespace LieConv.Datasets.Springs;

/// <summary>The three disjoint parts of a springs dataset.</summary>
public enum SpringsSplit
{
    /// <summary>Training systems.</summary>
    Train,

    /// <summary>Test systems.</summary>
    Test,

    /// <summary>Validation systems (the original's 'val', used for early stopping).</summary>
    Validation,
}

/// <summary>How a generated set is cut into examples and splits (reference §4.3); defaults are train_springs'.</summary>
public sealed record SpringsDatasetOptions
{
    /// <summary>Seeds the chunk choice and the split; independent of the generator's seed.</summary>
    public long Seed { get; init; }

    /// <summary>States per example, L: a chunk spans L consecutive grid times (L − 1 integration steps).</summary>
    public int ChunkLength { get; init; } = 5;

    /// <summary>Training systems (the original's n_train).</summary>
    public int TrainCount { get; init; } = 3000;

    /// <summary>Test systems.</summary>
    public int TestCount { get; init; } = 2000;

    /// <summary>Validation systems.</summary>
    public int ValidationCount { get; init; } = 200;
}

/// <summary>
/// Training examples from generated spring systems: each system's trajectory is cut into consecutive chunks of
/// <see cref="SpringsDatasetOptions.ChunkLength"/> states, one chunk per system is chosen, and the systems are split
/// into disjoint train, test and validation sets.
/// </summary>
/// <remarks>
/// <para>The original chose each system's chunk with torch's unseeded generator every time the dataset was loaded
/// (§7.11), so the examples changed from run to run; here the choice is a seeded draw, fixed by
/// <see cref="SpringsDatasetOptions.Seed"/> (system i's chunk depends on the seed and i only).</para>
/// <para>Splits are drawn like the original's <c>split_dataset</c>: largest first (ties in the order train, test,
/// validation), each a random subset of the systems the earlier ones left, here as consecutive slices of one seeded
/// permutation. The original used sklearn's <c>train_test_split</c> under NumPy seed 0, which cannot be reproduced bit
/// for bit; only the sizes and the procedure are the same.</para>
/// <para>A trajectory of T states gives ⌊T/L⌋ chunks; trailing states that do not fill a chunk are never used. (The
/// original's <c>torch.chunk</c> made ⌈T/⌊T/L⌋⌉-long chunks when L did not divide T; with the defaults, 500/5, both
/// give 100 chunks of 5.)</para>
/// </remarks>
public sealed class SpringsDataset
{
    private readonly int[] _chunks;
    private readonly int[][] _splits;

    /// <summary>Chooses the chunks and draws the splits.</summary>
    /// <param name="systems">The generated systems.</param>
    /// <param name="options">Chunk length, split sizes and seed; defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">The chunk is longer than a trajectory, a split size is negative,
    /// or the splits need more systems than there are.</exception>
    public SpringsDataset(SpringSystems systems, SpringsDatasetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(systems);
        options ??= new SpringsDatasetOptions();
        if (options.ChunkLength < 1 || options.ChunkLength > systems.Steps)
            throw new ArgumentOutOfRangeException(nameof(options), options.ChunkLength,
                $"The chunk length must be between 1 and the trajectory length {systems.Steps}.");
        int[] sizes = [options.TrainCount, options.TestCount, options.ValidationCount];
        if (sizes.Any(s => s < 0))
            throw new ArgumentOutOfRangeException(nameof(options), "Split sizes cannot be negative.");
        if (sizes.Sum(s => (long)s) > systems.Count)
            throw new ArgumentOutOfRangeException(nameof(options),
                $"The splits ask for {options.TrainCount} + {options.TestCount} + {options.ValidationCount} systems, but only {systems.Count} were generated.");

        Systems = systems;
        Options = options;
        ChunksPerSystem = systems.Steps / options.ChunkLength;

        var chunkRandom = TorchRuntime.CreateRandom(options.Seed, "springs/chunks");
        _chunks = new int[systems.Count];
        for (int i = 0; i < _chunks.Length; i++) _chunks[i] = chunkRandom.Next(ChunksPerSystem);

        var order = Enumerable.Range(0, systems.Count).ToArray();
        TorchRuntime.CreateRandom(options.Seed, "springs/splits").Shuffle(order);
        _splits = new int[sizes.Length][];
        int taken = 0;
        // OrderBy is stable, so equal sizes keep the order train, test, validation (as Python's sorted does).
        foreach (int split in Enumerable.Range(0, sizes.Length).OrderByDescending(s => sizes[s]))
        {
            _splits[split] = order[taken..(taken + sizes[split])];
            taken += sizes[split];
        }
    }

    /// <summary>The generated systems the examples come from.</summary>
    public SpringSystems Systems { get; }

    /// <summary>The options the dataset was built with.</summary>
    public SpringsDatasetOptions Options { get; }

    /// <summary>Chunks per trajectory, ⌊T/L⌋.</summary>
    public int ChunksPerSystem { get; }

    /// <summary>The chunk chosen for each system (index = system).</summary>
    public IReadOnlyList<int> Chunks => Array.AsReadOnly(_chunks);

    /// <summary>The systems of <paramref name="split"/>, in the split's (random) order.</summary>
    public IReadOnlyList<int> Indices(SpringsSplit split) => Array.AsReadOnly(_splits[SplitIndex(split)]);

    /// <summary>
    /// The examples of <paramref name="split"/>, created one at a time as the sequence is enumerated (so
    /// <c>LoadFromEnumerable</c> streams them); each enumeration yields the same rows.
    /// </summary>
    public IEnumerable<SpringsExample> Examples(SpringsSplit split)
    {
        var indices = _splits[SplitIndex(split)];
        return Enumerate(indices);
    }

    /// <summary>The example of one system: its chosen chunk.</summary>
    public SpringsExample Example(int system)
    {
        if ((uint)system >= (uint)Systems.Count)
            throw new ArgumentOutOfRangeException(nameof(system), system, $"There are {Systems.Count} systems.");
        int length = Options.ChunkLength, stateSize = Systems.StateSize, chunk = _chunks[system];
        var chunkStates = Systems.Trajectory(system).Slice(chunk * length * stateSize, length * stateSize);
        return new SpringsExample
        {
            SystemIndex = system,
            ChunkIndex = chunk,
            InitialState = ToSingles(chunkStates[..stateSize]),
            SystemParameters = ToSingles(Systems.SystemParameters(system)),
            Times = ToSingles(Systems.Times.Slice(chunk * length, length)),
            Trajectory = ToSingles(chunkStates),
        };
    }

    /// <summary>The ML.NET schema of this dataset's rows, with their exact vector sizes.</summary>
    public SchemaDefinition CreateSchemaDefinition() =>
        SpringsExample.CreateSchemaDefinition(Systems.Particles, Systems.Dimension, Options.ChunkLength);

    private IEnumerable<SpringsExample> Enumerate(int[] indices)
    {
        foreach (int system in indices) yield return Example(system);
    }

    private static int SplitIndex(SpringsSplit split) => split switch
    {
        SpringsSplit.Train => 0,
        SpringsSplit.Test => 1,
        SpringsSplit.Validation => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown split."),
    };

    private static float[] ToSingles(ReadOnlySpan<double> values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = (float)values[i];
        return result;
    }
}
