using Microsoft.ML;
using Microsoft.ML.Data;

namespace LieConv.MLNet;

/// <summary>
/// The outputs of the rows a cursor is about to reach, computed a batch at a time from a second cursor over the same
/// view that reads ahead of it: one network call per batch instead of one per row when a transformed view is read in
/// bulk (<c>Evaluate</c>, <c>CreateEnumerable</c>, a cursor).
/// </summary>
/// <remarks>
/// The second cursor must meet the same rows in the same order, which a cursor that shuffles, or one of a set that
/// splits the rows, does not: every row's id is compared with the id the second cursor read at its position, and at
/// the first difference the cursor is left to compute row by row from then on (<see cref="Outputs"/> returns null).
/// Whatever fails while reading ahead — a bad row, an upstream transform's error — ends the batch before that row,
/// so that the error is raised by the cursor that reaches the row, naming it, as row-by-row computation would.
/// </remarks>
/// <typeparam name="TRow">One row's checked input.</typeparam>
internal sealed class RowsAhead<TRow> : IDisposable
{
    /// <summary>The most rows computed in one batch.</summary>
    public const int MaxBatchRows = 32;

    private readonly IDataView _source;
    private readonly DataViewSchema.Column[] _columns;
    private readonly ValueGetter<DataViewRowId> _mainId;
    private readonly Func<DataViewRow, Func<TRow>> _reader;
    private readonly Func<IReadOnlyList<TRow>, TRow, bool> _fits;
    private readonly Func<IReadOnlyList<TRow>, float[][]> _compute;
    private DataViewRowCursor? _cursor;
    private ValueGetter<DataViewRowId>? _cursorId;
    private Func<TRow>? _read;
    private long _first = -1;
    private float[][] _outputs = [];
    private DataViewRowId[] _ids = [];
    private bool _off;

    /// <param name="source">The view the main cursor reads (the transformed view's input).</param>
    /// <param name="columns">The input columns a row's output depends on.</param>
    /// <param name="main">The main cursor's row.</param>
    /// <param name="reader">Given a row (or cursor), reads and checks its current input; throws on a bad row.</param>
    /// <param name="fits">Whether the next row may join the batch read so far, beyond <see cref="MaxBatchRows"/> (never asked for the first row).</param>
    /// <param name="compute">The outputs of a batch of rows, in order.</param>
    public RowsAhead(IDataView source, IEnumerable<DataViewSchema.Column> columns, DataViewRow main, Func<DataViewRow, Func<TRow>> reader,
        Func<IReadOnlyList<TRow>, TRow, bool> fits, Func<IReadOnlyList<TRow>, float[][]> compute)
    {
        (_source, _columns, _reader, _fits, _compute) = (source, columns.ToArray(), reader, fits, compute);
        _mainId = main.GetIdGetter();
    }

    /// <summary>The output of the main cursor's row at <paramref name="position"/>, or null when it must be computed on its own.</summary>
    public float[]? Outputs(long position)
    {
        if (_off) return null;
        if ((position < _first || position >= _first + _outputs.Length) && !Fill(position)) return null;
        DataViewRowId id = default;
        _mainId(ref id);
        int slot = (int)(position - _first);
        if (!id.Equals(_ids[slot]))
        {
            _off = true;   // not the rows the second cursor reads: row by row from here on
            return null;
        }
        return _outputs[slot];
    }

    /// <summary>Computes a batch that starts at <paramref name="position"/>; false if its first row cannot be read.</summary>
    private bool Fill(long position)
    {
        if (_cursor is null || _cursor.Position > position)
        {
            _cursor?.Dispose();
            _cursor = _source.GetRowCursor(_columns);
            _cursorId = _cursor.GetIdGetter();
            _read = _reader(_cursor);
        }
        while (_cursor.Position < position)
        {
            if (_cursor.MoveNext()) continue;
            _off = true;   // the view ended before the row: not the same rows
            return false;
        }
        var rows = new List<TRow>();
        var ids = new List<DataViewRowId>();
        while (true)
        {
            TRow row;
            try
            {
                row = _read!();
            }
            catch (Exception)
            {
                break;   // raised again, naming the row, when the main cursor reaches it
            }
            if (rows.Count > 0 && (rows.Count == MaxBatchRows || !_fits(rows, row))) break;
            DataViewRowId id = default;
            _cursorId!(ref id);
            rows.Add(row);
            ids.Add(id);
            if (!MoveAhead()) break;
        }
        if (rows.Count == 0) return false;
        (_first, _outputs, _ids) = (position, _compute(rows), ids.ToArray());
        return true;
    }

    /// <summary>The next row ahead; false at the end, or after an error, from which on the main cursor computes row by row.</summary>
    private bool MoveAhead()
    {
        try
        {
            return _cursor!.MoveNext();
        }
        catch (Exception)
        {
            _off = true;   // the main cursor meets the error at its own row, if it is an error of that row
            return false;
        }
    }

    public void Dispose() => _cursor?.Dispose();
}
