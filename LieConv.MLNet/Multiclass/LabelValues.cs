using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Data.IO;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// The training label's key values (e.g. the original strings before <c>MapValueToKey</c>), kept so the outputs can
/// carry them as KeyValues, SlotNames and TrainingLabelValues annotations after a save and load (conventions §4-5).
/// </summary>
/// <remarks>The item type is only known at run time, hence the boxed <see cref="VBuffer{T}"/> and the generic helpers.</remarks>
internal sealed class LabelValues
{
    private LabelValues(VectorDataViewType type, object value)
    {
        Type = type;
        Value = value;
    }

    /// <summary>The annotation's type: a known-size vector of the values' item type.</summary>
    public VectorDataViewType Type { get; }

    /// <summary>A boxed <c>VBuffer&lt;T&gt;</c> of the values, owned by this object.</summary>
    public object Value { get; }

    /// <summary>The key values of <paramref name="label"/>, or <see langword="null"/> when it has none.</summary>
    public static LabelValues? From(DataViewSchema.Column label)
    {
        var column = label.Annotations.Schema.GetColumnOrNull(AnnotationUtils.Kinds.KeyValues);
        if (column is null || column.Value.Type is not VectorDataViewType type)
            return null;
        return (LabelValues)Invoke(nameof(FromTyped), type.ItemType.RawType, label.Annotations, type)!;
    }

    /// <summary>Adds the values under each of <paramref name="kinds"/> to <paramref name="builder"/>.</summary>
    public void AddTo(DataViewSchema.Annotations.Builder builder, params string[] kinds)
        => Invoke(nameof(AddTyped), Type.ItemType.RawType, this, builder, kinds);

    /// <summary>Writes the type and values as ML.NET's TextClassification does, so that any key value type round-trips.</summary>
    public void Save(IHostEnvironment env, Stream stream)
    {
        if (!(bool)Invoke(nameof(SaveTyped), Type.ItemType.RawType, this, env, stream)!)
            throw new InvalidOperationException($"Cannot save label key values of type {Type.ItemType}.");
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    /// <exception cref="FormatException">The stored values are not a vector of label values.</exception>
    public static LabelValues Load(IHostEnvironment env, Stream stream)
    {
        var saver = new BinarySaver(env, new BinarySaver.Arguments());
        if (!saver.TryLoadTypeAndValue(stream, out var type, out var value) || type is not VectorDataViewType vector || value is null)
            throw new FormatException("model.zip: the LieConv transformer's label key values could not be read.");
        return new LabelValues(vector, value);
    }

    private static object? Invoke(string name, Type item, params object[] args)
        => typeof(LabelValues).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(item).Invoke(null, args);

    private static LabelValues FromTyped<T>(DataViewSchema.Annotations annotations, VectorDataViewType type)
    {
        VBuffer<T> values = default;
        annotations.GetValue(AnnotationUtils.Kinds.KeyValues, ref values);
        VBuffer<T> copy = default;
        values.CopyTo(ref copy);
        return new LabelValues(type, copy);
    }

    private static void AddTyped<T>(LabelValues self, DataViewSchema.Annotations.Builder builder, string[] kinds)
    {
        var values = (VBuffer<T>)self.Value;
        foreach (string kind in kinds)
            builder.Add(kind, self.Type, (ref VBuffer<T> dst) => values.CopyTo(ref dst));
    }

    private static bool SaveTyped<T>(LabelValues self, IHostEnvironment env, Stream stream)
    {
        var saver = new BinarySaver(env, new BinarySaver.Arguments());
        var values = (VBuffer<T>)self.Value;
        return saver.TryWriteTypeAndValue(stream, self.Type, ref values, out _);
    }
}
