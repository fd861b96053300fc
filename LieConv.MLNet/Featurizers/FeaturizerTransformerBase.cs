using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// What the featurizing transformers share: they are stateless row-to-row maps from input columns to point-cloud
/// columns, lazy in <c>Transform</c> and saved with their settings only (mlnet-conventions.md §4, §8).
/// </summary>
public abstract class FeaturizerTransformerBase : RowMapperTransformerBase
{
    private protected FeaturizerTransformerBase(IHostEnvironment env, string name)
        : base(env, name)
    {
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

        public void Save(ModelSaveContext ctx) => parent.SaveModel(ctx);

        public ITransformer GetTransformer() => parent;
    }
}
