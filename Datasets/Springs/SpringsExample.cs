using Microsoft.ML.Data;

namespace LieConv.Datasets.Springs;

/// <summary>
/// One training example of the springs task (reference §4.3) as an ML.NET row: a short chunk of one system's
/// trajectory, to be predicted from its first state, the system's parameters and the chunk's times.
/// </summary>
/// <remarks>
/// The vector sizes depend on n, d and the chunk length, which attributes cannot express, so the attributes declare
/// variable-length vectors and <see cref="CreateSchemaDefinition"/> gives the exact sizes (and the shapes as
/// dimensions): load with <c>mlContext.Data.LoadFromEnumerable(rows, SpringsExample.CreateSchemaDefinition(n, d, L))</c>.
/// Values are float32 (what the models train in); the float64 originals are in <see cref="SpringSystems"/>.
/// </remarks>
public sealed class SpringsExample
{
    /// <summary>Which system of the generated set the example comes from.</summary>
    public int SystemIndex { get; set; }

    /// <summary>Which chunk of the system's trajectory it is (0-based; the chunk starts at state ChunkIndex·L).</summary>
    public int ChunkIndex { get; set; }

    /// <summary>z at the chunk's start (2nd) = [q flattened particle-major, p likewise]; equal to the first row of <see cref="Trajectory"/>.</summary>
    [VectorType]
    public float[] InitialState { get; set; } = [];

    /// <summary>(mass, spring constant) per particle, (n, 2) particle-major.</summary>
    [VectorType]
    public float[] SystemParameters { get; set; } = [];

    /// <summary>The chunk's times (L), absolute times on the generated grid.</summary>
    [VectorType]
    public float[] Times { get; set; } = [];

    /// <summary>The target: z at each of the chunk's times, (L, 2nd) row-major.</summary>
    [VectorType]
    public float[] Trajectory { get; set; } = [];

    /// <summary>
    /// The row schema with fixed vector sizes for <paramref name="particles"/> particles in
    /// <paramref name="dimension"/> dimensions and chunks of <paramref name="chunkLength"/> states:
    /// InitialState 2nd, SystemParameters (n, 2), Times L, Trajectory (L, 2nd).
    /// </summary>
    public static SchemaDefinition CreateSchemaDefinition(int particles, int dimension, int chunkLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(particles, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkLength, 1);
        int stateSize = 2 * particles * dimension;
        var schema = SchemaDefinition.Create(typeof(SpringsExample));
        schema[nameof(InitialState)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, stateSize);
        schema[nameof(SystemParameters)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, particles, 2);
        schema[nameof(Times)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, chunkLength);
        schema[nameof(Trajectory)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, chunkLength, stateSize);
        return schema;
    }
}
