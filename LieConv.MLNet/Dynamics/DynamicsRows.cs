using LieConv.MLNet.MlNet;
using LieConv.MLNet.Data;
using LieConv.Models.Dynamics;
using LieConv.Runtime;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace LieConv.MLNet;

/// <summary>The column names a dynamics trainer or transformer reads.</summary>
/// <param name="InitialState">z₀ (2·n·d).</param>
/// <param name="SystemParameters">sysP (n·sys_dim).</param>
/// <param name="Times">The time grid (T).</param>
/// <param name="Trajectory">The true trajectory (T·2·n·d), or null when only predicting.</param>
internal sealed record DynamicsColumns(string InitialState, string SystemParameters, string Times, string? Trajectory);

/// <summary>One system read from a row: float32 arrays, already checked against the network's shapes.</summary>
internal sealed record DynamicsRow(float[] InitialState, float[] SystemParameters, float[] Times, float[]? Trajectory);

/// <summary>
/// Reads and checks dynamics rows, shared by training and prediction so that a row is accepted or refused alike, with
/// an <see cref="InvalidDataException"/> that names the column, the row and what was expected.
/// </summary>
internal static class DynamicsRows
{
    /// <summary>Checks one row's vectors against the spec; <paramref name="trajectory"/> is null when predicting.</summary>
    /// <exception cref="InvalidDataException">A length is wrong, a value is not finite, a mass is not positive or the times do not increase.</exception>
    public static void Check(DynamicsColumns columns, long row, DynamicsNetworkOptions spec,
        ReadOnlySpan<float> initialState, ReadOnlySpan<float> systemParameters, ReadOnlySpan<float> times, ReadOnlySpan<float> trajectory, bool hasTrajectory)
    {
        int n = spec.Particles, d = spec.Dimension, s = spec.SystemDimension, size = spec.StateSize;
        if (initialState.Length != size)
            throw PointCloudChecks.BadRow(columns.InitialState, row, $"has {initialState.Length} values",
                $"2·n·d = 2·{n}·{d} = {size} values (positions of all particles, then momenta)");
        if (systemParameters.Length != n * s)
            throw PointCloudChecks.BadRow(columns.SystemParameters, row, $"has {systemParameters.Length} values",
                $"n·sys_dim = {n}·{s} = {n * s} values (mass first, per particle)");
        if (times.Length < 1)
            throw PointCloudChecks.BadRow(columns.Times, row, "is empty", "at least one time");
        Finite(initialState, columns.InitialState, row);
        Finite(systemParameters, columns.SystemParameters, row);
        Finite(times, columns.Times, row);
        for (int i = 0; i < n; i++)
        {
            if (!(systemParameters[i * s] > 0))
                throw PointCloudChecks.BadRow(columns.SystemParameters, row, $"particle {i} has the mass {systemParameters[i * s]}", "positive masses (the first parameter of each particle)");
        }
        for (int i = 1; i < times.Length; i++)
        {
            if (!(times[i] > times[i - 1]))
                throw PointCloudChecks.BadRow(columns.Times, row, $"time {i} ({times[i]}) does not follow time {i - 1} ({times[i - 1]})", "strictly increasing times");
        }
        if (hasTrajectory)
        {
            if (trajectory.Length != times.Length * size)
                throw PointCloudChecks.BadRow(columns.Trajectory!, row, $"has {trajectory.Length} values for {times.Length} times",
                    $"T·2·n·d = {times.Length}·{size} = {times.Length * size} values");
            Finite(trajectory, columns.Trajectory!, row);
        }
    }

    /// <summary>Reads every row of <paramref name="data"/> (training or validation), checked.</summary>
    /// <exception cref="InvalidOperationException">There are no rows.</exception>
    public static List<DynamicsRow> ReadAll(IHost host, IDataView data, DynamicsColumns columns, DynamicsNetworkOptions spec, string role)
    {
        var schema = data.Schema;
        var cols = new[] { columns.InitialState, columns.SystemParameters, columns.Times, columns.Trajectory! }
            .Select((name, i) => SchemaChecks.SingleVector(host, schema, name, Roles[i])).ToArray();
        var rows = new List<DynamicsRow>();
        using var cursor = data.GetRowCursor(cols);
        var getters = cols.Select(c => cursor.GetGetter<VBuffer<float>>(c)).ToArray();
        var buffers = new VBuffer<float>[4];
        long row = 0;
        while (cursor.MoveNext())
        {
            var arrays = new float[4][];
            for (int i = 0; i < 4; i++)
            {
                getters[i](ref buffers[i]);
                arrays[i] = new float[buffers[i].Length];
                buffers[i].CopyTo(arrays[i]);
            }
            Check(columns, row, spec, arrays[0], arrays[1], arrays[2], arrays[3], hasTrajectory: true);
            // The batch is integrated on its first row's grid, so every row must have as many times.
            if (rows.Count > 0 && arrays[2].Length != rows[0].Times.Length)
                throw PointCloudChecks.BadRow(columns.Times, row, $"has {arrays[2].Length} times", $"{rows[0].Times.Length} times as in the first {role} row (examples are batched on one time grid)");
            rows.Add(new DynamicsRow(arrays[0], arrays[1], arrays[2], arrays[3]));
            row++;
        }
        if (rows.Count == 0)
            throw new InvalidOperationException($"The {role} data has no rows.");
        return rows;
    }

    /// <summary>The number of particles n implied by the first row's system parameters, for options that leave it open.</summary>
    public static int InferParticles(IHost host, IDataView data, string column, int systemDimension)
    {
        var col = SchemaChecks.SingleVector(host, data.Schema, column, "system parameters");
        if (col.Type is VectorDataViewType { Size: > 0 } fixedSize)
            return Particles(column, 0, fixedSize.Size, systemDimension);
        using var cursor = data.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        if (!cursor.MoveNext())
            throw new InvalidOperationException("The training data has no rows.");
        VBuffer<float> buffer = default;
        getter(ref buffer);
        return Particles(column, 0, buffer.Length, systemDimension);
    }

    private static int Particles(string column, long row, int length, int systemDimension)
    {
        if (length == 0 || length % systemDimension != 0)
            throw PointCloudChecks.BadRow(column, row, $"has {length} values", $"a positive multiple of sys_dim = {systemDimension} (n particles × sys_dim)");
        return length / systemDimension;
    }

    /// <summary>Stacks rows into one batch on <paramref name="device"/>.</summary>
    public static DynamicsBatch Collate(IReadOnlyList<DynamicsRow> rows, DynamicsNetworkOptions spec, Device device)
    {
        long b = rows.Count, t = rows[0].Times.Length;
        // Copied to the device without waiting for the GPU (TorchRuntime.Upload); nothing is copied on the CPU.
        var trajectory = rows[0].Trajectory is null ? null : TorchRuntime.Upload(tensor(rows.SelectMany(r => r.Trajectory!).ToArray(), [b, t, spec.StateSize]), device);
        return new DynamicsBatch(
            TorchRuntime.Upload(tensor(rows.SelectMany(r => r.InitialState).ToArray(), [b, spec.StateSize]), device),
            TorchRuntime.Upload(tensor(rows.SelectMany(r => r.SystemParameters).ToArray(), [b, spec.Particles, spec.SystemDimension]), device),
            TorchRuntime.Upload(tensor(rows.SelectMany(r => r.Times).ToArray(), [b, t]), device),
            trajectory);
    }

    private static readonly string[] Roles = ["initial state", "system parameters", "times", "trajectory"];

    private static void Finite(ReadOnlySpan<float> values, string column, long row)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                throw PointCloudChecks.BadRow(column, row, $"value {i} is {values[i].ToString(System.Globalization.CultureInfo.InvariantCulture)}", "finite values");
        }
    }
}
