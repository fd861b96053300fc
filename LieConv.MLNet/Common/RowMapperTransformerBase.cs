using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// The <see cref="ITransformer"/> side of every transformer in this library: a lazy row-to-row map through ML.NET's
/// <c>RowToRowMapperTransform</c> (mlnet-conventions.md §8), saved by <c>mlContext.Model.Save</c>. Derived classes
/// give the mapper and what they save.
/// </summary>
public abstract class RowMapperTransformerBase : ITransformer, ICanSaveModel
{
    private protected RowMapperTransformerBase(IHostEnvironment env, string name)
    {
        ArgumentNullException.ThrowIfNull(env);
        Host = env.Register(name);
    }

    private protected IHost Host { get; }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        Host.CheckValue(inputSchema, nameof(inputSchema));
        return RowToRowMapperTransform.GetOutputSchema(inputSchema, MakeMapper(inputSchema));
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        Host.CheckValue(input, nameof(input));
        ThrowIfUnusable();
        return new RowToRowMapperTransform(Host, input, MakeMapperReading(input), MakeMapper);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        Host.CheckValue(inputSchema, nameof(inputSchema));
        ThrowIfUnusable();
        return new RowToRowMapperTransform(Host, new EmptyDataView(Host, inputSchema), MakeMapper(inputSchema), MakeMapper);
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        Host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        SaveModel(ctx);
    }

    /// <summary>The mapper that adds this transformer's columns to rows of <paramref name="inputSchema"/>.</summary>
    private protected abstract IRowMapper MakeMapper(DataViewSchema inputSchema);

    /// <summary>
    /// The mapper of the view <c>Transform</c> returns over <paramref name="input"/>: by default the same as for its
    /// schema; a transformer that can use the whole view (to score rows in batches) says so here.
    /// </summary>
    private protected virtual IRowMapper MakeMapperReading(IDataView input) => MakeMapper(input.Schema);

    /// <summary>Writes the version and the state; also called by the mappers when a transformed view is saved.</summary>
    internal abstract void SaveModel(ModelSaveContext ctx);

    /// <summary>Throws when the transformer can no longer map rows (e.g. it was disposed).</summary>
    private protected virtual void ThrowIfUnusable()
    {
    }
}
