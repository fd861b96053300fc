using Microsoft.ML;
using Microsoft.ML.Data;

namespace LieConv.MLNet.Data;

/// <summary>
/// Reads point clouds (mlnet-conventions.md §5) from an <see cref="IDataView"/> into host-side batches
/// (<see cref="PointCloudRows"/>), checking the schema once up front and every row as it is read (§7).
/// </summary>
/// <remarks>
/// Schema problems throw <see cref="InvalidOperationException"/> from the constructor, before any row is read;
/// bad rows throw <see cref="InvalidDataException"/> naming the column, the row and what was expected.
/// </remarks>
public sealed class PointCloudReader
{
    private const string PointsExpectation = "a variable-length vector of Single (VectorType(0, d))";
    private const string FeaturesExpectation = "a vector of Single holding c features per point (VectorType(0, c))";

    private readonly DataViewSchema _schema;
    private readonly int? _fixedChannels;

    /// <summary>Binds <paramref name="columns"/> to <paramref name="schema"/>, checking names and types.</summary>
    /// <param name="schema">The schema of the data that will be read, usually <c>data.Schema</c>.</param>
    /// <param name="columns">Which columns hold the points, features and label.</param>
    /// <param name="expectedLabelKind">
    /// The label kind a caller needs (a multiclass trainer wants <see cref="PointCloudLabelKind.Key"/>);
    /// <see langword="null"/> accepts whatever the label column is and reports it in <see cref="LabelKind"/>.
    /// </param>
    /// <exception cref="InvalidOperationException">A column is missing or has the wrong type.</exception>
    /// <exception cref="ArgumentOutOfRangeException">CoordinateDimension or MaxPoints is not positive.</exception>
    public PointCloudReader(DataViewSchema schema, PointCloudColumns columns, PointCloudLabelKind? expectedLabelKind = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentException.ThrowIfNullOrEmpty(columns.Points, nameof(columns));
        if (columns.CoordinateDimension is <= 0)
            throw new ArgumentOutOfRangeException(nameof(columns), columns.CoordinateDimension, "CoordinateDimension must be positive.");
        if (columns.MaxPoints is <= 0)
            throw new ArgumentOutOfRangeException(nameof(columns), columns.MaxPoints, "MaxPoints must be positive.");
        _schema = schema;
        Columns = columns;

        var points = FindSingleVector(schema, columns.Points, PointsExpectation);
        int? typedD = LastDimension(points);
        if (typedD is int fromType && columns.CoordinateDimension is int given && given != fromType)
            throw new InvalidOperationException(
                $"Column '{columns.Points}' has type {points.Type} with d = {fromType}, but CoordinateDimension is {given}; expected them to agree.");
        SpaceDimension = columns.CoordinateDimension ?? typedD ?? throw new InvalidOperationException(
            $"Column '{columns.Points}' has type {points.Type}, whose dimensions do not give the coordinate dimension d; " +
            $"expected {PointsExpectation}, or set {nameof(PointCloudColumns)}.{nameof(PointCloudColumns.CoordinateDimension)}.");

        if (columns.Features is null)
            _fixedChannels = 1;
        else
            _fixedChannels = LastDimension(FindSingleVector(schema, columns.Features, FeaturesExpectation));

        (LabelKind, ClassCount) = BindLabel(schema, columns.Label, expectedLabelKind);
    }

    /// <summary>The columns this reader was built for.</summary>
    public PointCloudColumns Columns { get; }

    /// <summary>The coordinate dimension d.</summary>
    public int SpaceDimension { get; }

    /// <summary>
    /// The number of features per point c when the schema fixes it (1 without a Features column, or the Features
    /// column's <c>Dimensions</c> [0, c]); otherwise <see langword="null"/>, and each read takes it from its first row.
    /// </summary>
    public int? Channels => _fixedChannels;

    /// <summary>Whether the labels are classes, regression targets, or absent.</summary>
    public PointCloudLabelKind LabelKind { get; }

    /// <summary>The number of classes (the key count) for key labels; 0 otherwise.</summary>
    public int ClassCount { get; }

    /// <summary>
    /// Reads <paramref name="data"/> in batches of up to <paramref name="batchSize"/> rows (the last may be smaller).
    /// Rows are checked as they are read, so a bad row throws when its batch is being built.
    /// </summary>
    /// <param name="data">Data with the schema this reader was built for (columns of the same names and types).</param>
    /// <param name="batchSize">The most rows per batch.</param>
    /// <param name="shuffleSeed">
    /// Shuffles the rows with <c>new Random(shuffleSeed)</c> when <paramref name="data"/> can shuffle
    /// (<see cref="IDataView.CanShuffle"/>, e.g. after <c>Data.Cache</c>); data that cannot is read in order, so a
    /// caller that must shuffle such data caches it or uses <c>Data.ShuffleRows</c> first. Pass a new seed per epoch
    /// (e.g. seed + epoch) for a new order. With shuffling, row indices in errors are positions in the shuffled order.
    /// </param>
    /// <exception cref="InvalidOperationException">
    /// <paramref name="data"/>'s columns differ from the schema the reader was built for.
    /// </exception>
    public IEnumerable<PointCloudRows> ReadBatches(IDataView data, int batchSize, int? shuffleSeed = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var needed = new List<DataViewSchema.Column>(3) { SameColumn(data.Schema, Columns.Points) };
        if (Columns.Features is not null)
            needed.Add(SameColumn(data.Schema, Columns.Features));
        if (Columns.Label is not null)
            needed.Add(SameColumn(data.Schema, Columns.Label));
        var rand = shuffleSeed is int seed && data.CanShuffle ? new Random(seed) : null;
        // Checked above, outside the iterator, so that argument and schema errors surface at the call.
        return Read(data, needed, batchSize, rand);
    }

    private IEnumerable<PointCloudRows> Read(IDataView data, List<DataViewSchema.Column> needed, int batchSize, Random? rand)
    {
        using var cursor = data.GetRowCursor(needed, rand);
        var pointsGetter = cursor.GetGetter<VBuffer<float>>(needed[0]);
        var featuresGetter = Columns.Features is null ? null : cursor.GetGetter<VBuffer<float>>(needed[1]);
        var labelColumn = Columns.Label is null ? (DataViewSchema.Column?)null : needed[^1];
        var keyGetter = LabelKind == PointCloudLabelKind.Key ? KeyGetter(cursor, labelColumn!.Value) : null;
        var targetGetter = LabelKind == PointCloudLabelKind.Single ? cursor.GetGetter<float>(labelColumn!.Value) : null;

        // The getters recycle the buffers' arrays, so one per column serves the whole pass.
        VBuffer<float> pointsBuffer = default, featuresBuffer = default;
        int d = SpaceDimension;
        int c = _fixedChannels ?? 0;
        bool channelsFromRow = _fixedChannels is null;
        var stage = new Stage(batchSize, LabelKind);

        while (cursor.MoveNext())
        {
            long row = cursor.Position;
            pointsGetter(ref pointsBuffer);
            int length = pointsBuffer.Length;
            string pointsName = Columns.Points;
            int n = PointCloudChecks.PointCount(pointsName, row, length, d, Columns.MaxPoints);
            var coordinates = stage.AddCoordinates(length);
            // CopyTo densifies sparse rows; GetValues alone would give only the explicit values.
            pointsBuffer.CopyTo(coordinates);
            PointCloudChecks.Finite(coordinates, d, pointsName, row, "coordinates");

            if (featuresGetter is null)
            {
                stage.AddFeatures(n).Fill(1f);
            }
            else
            {
                string featuresName = Columns.Features!;
                featuresGetter(ref featuresBuffer);
                int featureLength = featuresBuffer.Length;
                if (c == 0)
                {
                    if (featureLength == 0 || featureLength % n != 0)
                        throw PointCloudChecks.BadRow(featuresName, row, $"has {featureLength} values for {n} points",
                            $"a positive multiple of the point count (N·c features, c taken from the first row)");
                    c = featureLength / n;
                }
                else
                {
                    PointCloudChecks.FeatureLength(featuresName, row, featureLength, n, c,
                        channelsFromRow ? "from the first row" : "from the column's dimensions");
                }
                var features = stage.AddFeatures(featureLength);
                featuresBuffer.CopyTo(features);
                PointCloudChecks.Finite(features, c, featuresName, row, "features");
            }

            if (keyGetter is not null)
            {
                ulong key = keyGetter();
                if (key == 0)
                    throw PointCloudChecks.BadRow(Columns.Label!, row, "is the missing key value 0 (a label unknown to the key mapping, or out of its range)", $"a key in 1..{ClassCount}");
                if (key > (ulong)ClassCount)
                    throw PointCloudChecks.BadRow(Columns.Label!, row, $"is key {key}, out of range", $"a key in 1..{ClassCount}");
                stage.AddClass((int)(key - 1));
            }
            else if (targetGetter is not null)
            {
                float target = 0;
                targetGetter(ref target);
                if (!float.IsFinite(target))
                    throw PointCloudChecks.BadRow(Columns.Label!, row, $"is {target}", "a finite regression target");
                stage.AddTarget(target);
            }

            stage.EndRow(n);
            if (stage.Count == batchSize)
                yield return stage.Emit(d, c);
        }
        if (stage.Count > 0)
            yield return stage.Emit(d, c);
    }

    private static DataViewSchema.Column FindSingleVector(DataViewSchema schema, string name, string expectation)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new InvalidOperationException($"Column '{name}' not found; expected {expectation}.");
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType item } || item != NumberDataViewType.Single)
            throw new InvalidOperationException($"Column '{name}' has type {column.Type}; expected {expectation}.");
        return column;
    }

    /// <summary>The last of [0, k]-style dimensions, which is how d and c travel with a column (§5).</summary>
    private static int? LastDimension(DataViewSchema.Column column)
    {
        var dims = ((VectorDataViewType)column.Type).Dimensions;
        return dims.Length == 2 && dims[1] > 0 ? dims[1] : null;
    }

    private static (PointCloudLabelKind Kind, int ClassCount) BindLabel(DataViewSchema schema, string? name, PointCloudLabelKind? expected)
    {
        string expectation = expected switch
        {
            PointCloudLabelKind.Key => "a key (multiclass; use MapValueToKey)",
            PointCloudLabelKind.Single => "Single (regression)",
            _ => "a key (multiclass; use MapValueToKey) or Single (regression)",
        };
        if (name is null)
        {
            if (expected is PointCloudLabelKind.Key or PointCloudLabelKind.Single)
                throw new InvalidOperationException($"No Label column was named; expected a label column of type {expectation}.");
            return (PointCloudLabelKind.None, 0);
        }
        if (expected == PointCloudLabelKind.None)
            throw new InvalidOperationException($"Label column '{name}' was named, but the caller expects no label.");

        var column = schema.GetColumnOrNull(name)
            ?? throw new InvalidOperationException($"Column '{name}' not found; expected a label of type {expectation}.");
        var (kind, count) = column.Type switch
        {
            KeyDataViewType key when key.Count <= int.MaxValue => (PointCloudLabelKind.Key, (int)key.Count),
            NumberDataViewType number when number == NumberDataViewType.Single => (PointCloudLabelKind.Single, 0),
            _ => (PointCloudLabelKind.None, 0),
        };
        if (kind == PointCloudLabelKind.None || (expected is not null && kind != expected))
            throw new InvalidOperationException($"Column '{name}' has type {column.Type}; expected a label of type {expectation}.");
        return (kind, count);
    }

    private DataViewSchema.Column SameColumn(DataViewSchema schema, string name)
    {
        var expected = _schema[name];
        var actual = schema.GetColumnOrNull(name);
        if (actual is null || !actual.Value.Type.Equals(expected.Type))
            throw new InvalidOperationException(
                $"Column '{name}' has type {actual?.Type.ToString() ?? "(missing)"} in the data; expected {expected.Type} as in the schema the reader was built for.");
        return actual.Value;
    }

    private static Func<ulong> KeyGetter(DataViewRow row, DataViewSchema.Column column)
    {
        // Keys may be stored as any unsigned integer; MapValueToKey gives UInt32.
        Type raw = column.Type.RawType;
        if (raw == typeof(uint)) { var g = row.GetGetter<uint>(column); uint v = 0; return () => { g(ref v); return v; }; }
        if (raw == typeof(ulong)) { var g = row.GetGetter<ulong>(column); ulong v = 0; return () => { g(ref v); return v; }; }
        if (raw == typeof(ushort)) { var g = row.GetGetter<ushort>(column); ushort v = 0; return () => { g(ref v); return v; }; }
        if (raw == typeof(byte)) { var g = row.GetGetter<byte>(column); byte v = 0; return () => { g(ref v); return v; }; }
        throw new InvalidOperationException($"Column '{column.Name}' is a key stored as {raw.Name}; expected an unsigned integer key.");
    }

    /// <summary>
    /// Rows of the batch being read, unpadded and back to back: the padded size is known only once the batch is
    /// complete, and staging saves a second pass over the cursor.
    /// </summary>
    private sealed class Stage(int capacity, PointCloudLabelKind labelKind)
    {
        private readonly int[] _counts = new int[capacity];
        private readonly int[]? _classes = labelKind == PointCloudLabelKind.Key ? new int[capacity] : null;
        private readonly float[]? _targets = labelKind == PointCloudLabelKind.Single ? new float[capacity] : null;
        private float[] _coordinates = new float[256];
        private float[] _features = new float[256];
        private int _coordinatesUsed, _featuresUsed;

        public int Count { get; private set; }

        public Span<float> AddCoordinates(int length) => Append(ref _coordinates, ref _coordinatesUsed, length);

        public Span<float> AddFeatures(int length) => Append(ref _features, ref _featuresUsed, length);

        public void AddClass(int value) => _classes![Count] = value;

        public void AddTarget(float value) => _targets![Count] = value;

        public void EndRow(int points) => _counts[Count++] = points;

        public PointCloudRows Emit(int d, int c)
        {
            int b = Count;
            var counts = _counts.AsSpan(0, b).ToArray();
            int nMax = 0;
            foreach (int n in counts)
                nMax = Math.Max(nMax, n);
            var coordinates = new float[(long)b * nMax * d];
            var features = new float[(long)b * nMax * c];
            int coordinateSource = 0, featureSource = 0;
            for (int i = 0; i < b; i++)
            {
                // New arrays are zero, which is the padding.
                Array.Copy(_coordinates, coordinateSource, coordinates, i * nMax * d, counts[i] * d);
                Array.Copy(_features, featureSource, features, i * nMax * c, counts[i] * c);
                coordinateSource += counts[i] * d;
                featureSource += counts[i] * c;
            }
            var rows = new PointCloudRows(counts, nMax, d, c, coordinates, features, labelKind,
                _classes?.AsSpan(0, b).ToArray(), _targets?.AsSpan(0, b).ToArray());
            Count = 0;
            _coordinatesUsed = _featuresUsed = 0;
            return rows;
        }

        private static Span<float> Append(ref float[] buffer, ref int used, int length)
        {
            if (used + length > buffer.Length)
                Array.Resize(ref buffer, Math.Max(buffer.Length * 2, used + length));
            var span = buffer.AsSpan(used, length);
            used += length;
            return span;
        }
    }
}
