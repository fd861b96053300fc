namespace LieConv.MLNet.Data;

/// <summary>
/// The per-row checks of a point cloud, shared by training (<see cref="PointCloudReader"/>) and prediction (the
/// transformers' mappers) so that a row is accepted or refused alike in both, with the same message.
/// </summary>
internal static class PointCloudChecks
{
    /// <summary>The number of points N of a points vector of <paramref name="length"/> values.</summary>
    /// <exception cref="InvalidDataException">The length is not a positive multiple of d, or N exceeds <paramref name="maxPoints"/>.</exception>
    public static int PointCount(string column, long row, int length, int d, int? maxPoints)
    {
        if (length % d != 0)
            throw BadRow(column, row, $"has {length} values, not a multiple of d = {d}", $"a flattened (N, {d}) array of coordinates");
        int n = length / d;
        if (n == 0)
            throw BadRow(column, row, "is an empty point cloud", "at least one point");
        if (maxPoints is int max && n > max)
            throw BadRow(column, row, $"has {n} points", $"at most MaxPoints = {max} points");
        return n;
    }

    /// <summary>Checks that a features vector has N·c values; <paramref name="source"/> says where c comes from, e.g. "from the column's dimensions".</summary>
    /// <exception cref="InvalidDataException">The length is wrong.</exception>
    public static void FeatureLength(string column, long row, int length, int n, int c, string source)
    {
        if (length != n * c)
            throw BadRow(column, row, $"has {length} values for {n} points", $"N·c = {n}·{c} = {n * c} features (c = {c} {source})");
    }

    /// <summary>Checks that every value is finite.</summary>
    /// <exception cref="InvalidDataException">A value is NaN or infinite; the message names its point.</exception>
    public static void Finite(ReadOnlySpan<float> values, int perPoint, string column, long row, string what)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                throw BadRow(column, row, $"point {i / perPoint} has the non-finite value {values[i].ToString(System.Globalization.CultureInfo.InvariantCulture)}", $"finite {what}");
        }
    }

    /// <summary>The error for a bad row: column, row, the problem and what was expected.</summary>
    public static InvalidDataException BadRow(string column, long row, string problem, string expectation)
        => new($"Column '{column}', row {row}: {problem}; expected {expectation}.");
}
