namespace LieConv.MLNet.Data;

/// <summary>What a <see cref="PointCloudReader"/> expects of its label column.</summary>
public enum PointCloudLabelKind
{
    /// <summary>No label column (inference).</summary>
    None,

    /// <summary>A key column (multiclass, e.g. from <c>MapValueToKey</c>); read as 0-based class indices.</summary>
    Key,

    /// <summary>A <see cref="float"/> column (regression).</summary>
    Single,
}

/// <summary>
/// The columns that hold point clouds in an <see cref="Microsoft.ML.IDataView"/> (mlnet-conventions.md §5):
/// <c>Points</c> is a variable-length vector of <see cref="float"/>, the row-major flattening of an (N, d) array.
/// </summary>
/// <param name="Points">The coordinates column, <c>VectorType(0, d)</c>.</param>
/// <param name="Features">
/// The per-point features column, a vector of <see cref="float"/> of length N·c; <see langword="null"/> gives
/// every point the single feature 1.
/// </param>
/// <param name="Label">The label column (key or <see cref="float"/>), or <see langword="null"/> for inference.</param>
/// <param name="CoordinateDimension">
/// d; <see langword="null"/> takes it from the Points column's <c>Dimensions</c> [0, d], and is then required
/// when the column carries no such dimension (e.g. TextLoader's <c>R4:1-*</c> or <c>Concatenate</c>).
/// </param>
/// <param name="MaxPoints">The most points one cloud may have; <see langword="null"/> for no limit.</param>
public sealed record PointCloudColumns(
    string Points = "Points",
    string? Features = null,
    string? Label = null,
    int? CoordinateDimension = null,
    int? MaxPoints = null);
