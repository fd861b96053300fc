using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// What the featurizing transformers share: they are stateless row-to-row maps from input columns to point-cloud
/// columns, lazy in <see cref="Transform"/> and saved with their settings only (mlnet-conventions.md §4, §8).
/// </summary>
public abstract class FeaturizerTransformerBase : ITransformer, ICanSaveModel
{
    private protected FeaturizerTransformerBase(IHostEnvironment env, string name)
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
        return new RowToRowMapperTransform(Host, input, MakeMapper(input.Schema), MakeMapper);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        Host.CheckValue(inputSchema, nameof(inputSchema));
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

    /// <summary>Writes the version and the settings.</summary>
    private protected abstract void SaveModel(ModelSaveContext ctx);

    /// <summary>Finds a vector-of-Single input column or throws ML.NET's schema error naming it.</summary>
    private protected static DataViewSchema.Column FindSingleVector(IHost host, DataViewSchema schema, string name, string role)
    {
        var column = schema.GetColumnOrNull(name) ?? throw host.ExceptSchemaMismatch(nameof(schema), role, name);
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType item } || item != NumberDataViewType.Single)
            throw host.ExceptSchemaMismatch(nameof(schema), role, name, "vector of Single", column.Type.ToString());
        return column;
    }

    /// <summary>The schema check of an estimator: the input column must be a vector of Single.</summary>
    internal static void CheckInput(IHost host, SchemaShape schema, string name, string role)
    {
        if (!schema.TryFindColumn(name, out var column))
            throw host.ExceptSchemaMismatch(nameof(schema), role, name);
        if (column.Kind == SchemaShape.Column.VectorKind.Scalar || column.ItemType != NumberDataViewType.Single)
            throw host.ExceptSchemaMismatch(nameof(schema), role, name, "vector of Single", column.GetTypeString());
    }

    /// <summary>A row mapper of one input column whose outputs are computed together once per row.</summary>
    private protected abstract class MapperBase(FeaturizerTransformerBase parent, DataViewSchema.Column input) : IRowMapper
    {
        /// <summary>The input column.</summary>
        protected DataViewSchema.Column Input => input;

        public abstract DataViewSchema.DetachedColumn[] GetOutputColumns();

        /// <summary>Fills the outputs from one row's input values; <paramref name="row"/> is for messages.</summary>
        protected abstract float[][] Map(ReadOnlySpan<float> values, long row);

        public Func<int, bool> GetDependencies(Func<int, bool> activeOutput)
        {
            bool any = Enumerable.Range(0, GetOutputColumns().Length).Any(activeOutput);
            return col => any && col == input.Index;
        }

        public Delegate[] CreateGetters(DataViewRow row, Func<int, bool> activeOutput, out Action disposer)
        {
            disposer = () => { };
            int count = GetOutputColumns().Length;
            var getters = new Delegate[count];
            // The input column is active only when an output is (GetDependencies), so its getter may not be asked for otherwise.
            if (!Enumerable.Range(0, count).Any(activeOutput))
                return getters;
            var getter = row.GetGetter<VBuffer<float>>(input);
            VBuffer<float> buffer = default;
            long cachedPosition = -1;
            float[][] cached = [];
            float[][] Outputs()
            {
                if (cachedPosition == row.Position) return cached;
                getter(ref buffer);
                var dense = new float[buffer.Length];
                buffer.CopyTo(dense);
                cached = Map(dense, row.Position);
                cachedPosition = row.Position;
                return cached;
            }

            for (int i = 0; i < count; i++)
            {
                if (!activeOutput(i)) continue;
                int output = i;
                getters[i] = (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                {
                    var values = Outputs()[output];
                    var editor = VBufferEditor.Create(ref dst, values.Length);
                    values.CopyTo(editor.Values);
                    dst = editor.Commit();
                });
            }
            return getters;
        }

        public void Save(ModelSaveContext ctx) => ((ICanSaveModel)parent).Save(ctx);

        public ITransformer GetTransformer() => parent;
    }
}
