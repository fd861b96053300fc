using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet.MlNet;

/// <summary>
/// The one column check every estimator and mapper of this library makes: the column exists and is a vector of
/// Single, else ML.NET's schema-mismatch error naming the role, the column and what it is.
/// </summary>
internal static class SchemaChecks
{
    /// <summary>The estimator's check, on a <see cref="SchemaShape"/> (no sizes yet).</summary>
    public static SchemaShape.Column SingleVector(IHost host, SchemaShape schema, string name, string role)
    {
        if (!schema.TryFindColumn(name, out var column))
            throw host.ExceptSchemaMismatch(nameof(schema), role, name);
        if (column.Kind == SchemaShape.Column.VectorKind.Scalar || column.ItemType != NumberDataViewType.Single)
            throw host.ExceptSchemaMismatch(nameof(schema), role, name, "vector of Single", column.GetTypeString());
        return column;
    }

    /// <summary>The mapper's check, on the real <see cref="DataViewSchema"/>.</summary>
    public static DataViewSchema.Column SingleVector(IHost host, DataViewSchema schema, string name, string role)
    {
        var column = schema.GetColumnOrNull(name) ?? throw host.ExceptSchemaMismatch(nameof(schema), role, name);
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType item } || item != NumberDataViewType.Single)
            throw host.ExceptSchemaMismatch(nameof(schema), role, name, "vector of Single", column.Type.ToString());
        return column;
    }
}
