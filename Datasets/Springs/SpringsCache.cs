using System.Globalization;
using LieConv.Datasets.Io;
using LieConv.Training;

namespace LieConv.Datasets.Springs;

/// <summary>
/// Keeps generated spring systems on disk as <c>.npz</c> files, one per set of generation parameters, so that a set
/// is integrated once (the original's <c>spring_2D_&lt;N&gt;_train.pz</c>).
/// </summary>
/// <remarks>
/// <para>Members: <c>times</c> (T), <c>trajectories</c> (N, T, 2nd), <c>system_parameters</c> (N, n, 2), all float64,
/// plus scalars <c>format_version</c>, <c>seed</c>, <c>time_step</c> and <c>forces</c>. Stored uncompressed: float64
/// trajectories barely deflate, and 10 000 systems (960 MB) load several times faster that way.</para>
/// <para>Files are written atomically (temporary file, then rename), so an interrupted generation leaves no partial
/// cache behind. A file that cannot be read or does not hold what its name promises is reported with an
/// <see cref="InvalidDataException"/> that names it, rather than silently regenerated: after an atomic write such
/// a file means something outside this library changed it, and regenerating can take minutes, hiding the problem
/// while looking like a hang. Pass <c>regenerate: true</c> (the original's <c>regen</c>) to overwrite it.</para>
/// </remarks>
public static class SpringsCache
{
    /// <summary>Version of the generator and file layout; part of the file name, bumped whenever either changes the data.</summary>
    public const int FormatVersion = 1;

    private const string TimesMember = "times";
    private const string TrajectoriesMember = "trajectories";
    private const string ParametersMember = "system_parameters";
    private const string VersionMember = "format_version";
    private const string SeedMember = "seed";
    private const string TimeStepMember = "time_step";
    private const string ForcesMember = "forces";

    /// <summary>
    /// The cache file name for <paramref name="options"/>, e.g. <c>springs_v1_2D_6p_10000sys_500steps_dt0.01_seed0_closedform.npz</c>:
    /// every parameter that changes the data, and nothing else.
    /// </summary>
    public static string FileName(SpringsGeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return string.Create(CultureInfo.InvariantCulture,
            $"springs_v{FormatVersion}_{options.Dimension}D_{options.Particles}p_{options.Systems}sys_{options.Steps}steps_dt{options.TimeStep:R}_seed{options.Seed}_{options.Forces.ToString().ToLowerInvariant()}.npz");
    }

    /// <summary>
    /// Loads the systems for <paramref name="options"/> from <paramref name="folder"/>, or generates and saves them
    /// when the folder has no such file (or <paramref name="regenerate"/> is set).
    /// </summary>
    /// <param name="folder">The cache folder; created if missing.</param>
    /// <param name="options">What to load or generate.</param>
    /// <param name="regenerate">Generate and overwrite even if a file exists.</param>
    /// <param name="progress">Passed to the generator when it runs.</param>
    /// <param name="cancellationToken">Passed to the generator when it runs.</param>
    /// <exception cref="InvalidDataException">The cache file exists but is corrupt or holds other data; the message names it.</exception>
    public static SpringSystems LoadOrGenerate(string folder, SpringsGeneratorOptions options, bool regenerate = false,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(options);
        string path = Path.Combine(folder, FileName(options));
        if (!regenerate && File.Exists(path))
        {
            var loaded = Load(path);
            var expected = options with { IntegrationBatchSize = loaded.Options.IntegrationBatchSize };
            if (loaded.Options != expected)
                throw Corrupt(path, $"it holds {loaded.Options}, but its name promises {options}.");
            return loaded;
        }

        var systems = SpringsGenerator.Generate(options, progress, cancellationToken);
        Save(path, systems);
        return systems;
    }

    /// <summary>Writes <paramref name="systems"/> to <paramref name="path"/> atomically, replacing any existing file.</summary>
    public static void Save(string path, SpringSystems systems)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(systems);
        var o = systems.Options;
        NpyArray[] arrays =
        [
            new(VersionMember, [FormatVersion], []),
            new(SeedMember, [o.Seed], []),
            new(TimeStepMember, [o.TimeStep], []),
            new(ForcesMember, [(int)o.Forces], []),
            new(TimesMember, systems.TimesArray, [o.Steps]),
            new(ParametersMember, systems.ParametersArray, [o.Systems, o.Particles, 2]),
            new(TrajectoriesMember, systems.TrajectoriesArray, [o.Systems, o.Steps, o.StateSize]),
        ];
        AtomicFile.Write(path, stream => Npy.WriteNpz(stream, arrays, compress: false));
    }

    /// <summary>Reads a cache file written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable <c>.npz</c>, or its members are missing or
    /// inconsistent; the message names the file.</exception>
    public static SpringSystems Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        IReadOnlyDictionary<string, NpyArray> arrays;
        try
        {
            arrays = Npy.ReadNpz(path);
        }
        catch (InvalidDataException e)
        {
            throw Corrupt(path, e.Message, e);
        }

        int version = ScalarInt(arrays, path, VersionMember);
        if (version != FormatVersion)
            throw Corrupt(path, $"it has format version {version}; this library reads version {FormatVersion}.");
        var times = Member(arrays, path, TimesMember, NpyType.Float64, rank: 1);
        var parameters = Member(arrays, path, ParametersMember, NpyType.Float64, rank: 3);
        var trajectories = Member(arrays, path, TrajectoriesMember, NpyType.Float64, rank: 3);
        long count = parameters.Shape[0], particles = parameters.Shape[1], steps = times.Shape[0], stateSize = trajectories.Shape[2];
        if (parameters.Shape[2] != 2 || trajectories.Shape[0] != count || trajectories.Shape[1] != steps
            || particles < 1 || stateSize % (2 * particles) != 0 || stateSize == 0)
            throw Corrupt(path, $"its shapes do not fit together: times {NpyArray.FormatShape(times.Shape)}, " +
                                $"system_parameters {NpyArray.FormatShape(parameters.Shape)} (expected (N, n, 2)), " +
                                $"trajectories {NpyArray.FormatShape(trajectories.Shape)} (expected (N, T, 2·n·d)).");

        int forces = ScalarInt(arrays, path, ForcesMember);
        var options = new SpringsGeneratorOptions
        {
            Systems = checked((int)count),
            Particles = checked((int)particles),
            Dimension = checked((int)(stateSize / (2 * particles))),
            Steps = checked((int)steps),
            TimeStep = Scalar(arrays, path, TimeStepMember, NpyType.Float64).ToDoubles()[0],
            Seed = Scalar(arrays, path, SeedMember, NpyType.Int64).ToInt64s()[0],
            Forces = Enum.IsDefined((SpringForces)forces) ? (SpringForces)forces : throw Corrupt(path, $"unknown force computation {forces}."),
        };
        try
        {
            return new SpringSystems(options, (double[])times.Data, (double[])trajectories.Data, (double[])parameters.Data);
        }
        catch (ArgumentException e)
        {
            throw Corrupt(path, e.Message, e);
        }
    }

    private static NpyArray Member(IReadOnlyDictionary<string, NpyArray> arrays, string path, string name, NpyType type, int rank)
    {
        if (!arrays.TryGetValue(name, out var array))
            throw Corrupt(path, $"it has no member '{name}.npy'; found {(arrays.Count == 0 ? "none" : string.Join(", ", arrays.Keys))}.");
        if (array.Type != type || array.Rank != rank)
            throw Corrupt(path, $"member '{name}' is {array}; expected a rank-{rank} {type} array.");
        return array;
    }

    private static NpyArray Scalar(IReadOnlyDictionary<string, NpyArray> arrays, string path, string name, NpyType type) =>
        Member(arrays, path, name, type, rank: 0);

    private static int ScalarInt(IReadOnlyDictionary<string, NpyArray> arrays, string path, string name) =>
        Scalar(arrays, path, name, NpyType.Int32).ToInt32s()[0];

    private static InvalidDataException Corrupt(string path, string reason, Exception? inner = null) =>
        new($"Springs cache file '{path}' is corrupt or not a springs cache: {reason} " +
            "Delete it, or load with regenerate: true, to generate the data again.", inner);
}
