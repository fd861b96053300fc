using System.Globalization;
using System.Text;

namespace LieConv.Datasets.Io;

/// <summary>What an .npy header declares, already validated against what this reader supports.</summary>
/// <param name="Type">The element type.</param>
/// <param name="SwapBytes">Whether the stored byte order differs from this machine's.</param>
/// <param name="Shape">The dimensions.</param>
/// <param name="Length">The element count (product of the shape), at most <see cref="Array.MaxLength"/>.</param>
/// <param name="DataBytes">The number of data bytes that follow the header.</param>
/// <param name="Descr">The descr exactly as written, for messages.</param>
internal sealed record NpyHeader(NpyType Type, bool SwapBytes, long[] Shape, long Length, long DataBytes, string Descr)
{
    /// <summary>Headers beyond this are refused before allocating: real ones are ~100 bytes, and a corrupt length
    /// field in a version 2.0/3.0 file could otherwise ask for 4 GiB.</summary>
    public const int MaxHeaderBytes = 1 << 20;

    private static readonly string[] RequiredKeys = ["descr", "fortran_order", "shape"];

    /// <summary>Validates the header dict text (after the length field) and works out the data layout.</summary>
    /// <param name="text">The decoded header text.</param>
    /// <param name="source">The file/member description that starts every error message.</param>
    public static NpyHeader Parse(string text, string source)
    {
        object? parsed = new PythonLiteralParser(text, source).ParseDocument();
        if (parsed is not Dictionary<string, object?> dict)
        {
            throw Error(source, $"expected the header to be a Python dict such as {{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }}, found: {Shorten(text)}");
        }

        foreach (string key in RequiredKeys)
        {
            if (!dict.ContainsKey(key))
            {
                throw Error(source, $"the header has no '{key}' key; expected the keys 'descr', 'fortran_order' and 'shape'. Header: {Shorten(text)}");
            }
        }

        // NumPy refuses extra keys too: they could change how the data must be read, so guessing is unsafe.
        foreach (string key in dict.Keys)
        {
            if (Array.IndexOf(RequiredKeys, key) < 0)
            {
                throw Error(source, $"the header has an unexpected key '{key}'; expected only 'descr', 'fortran_order' and 'shape'.");
            }
        }

        if (dict["fortran_order"] is not bool fortranOrder)
        {
            throw Error(source, $"expected 'fortran_order' to be True or False, found {Describe(dict["fortran_order"])}.");
        }

        if (fortranOrder)
        {
            throw Error(source, "the array is stored in Fortran (column-major) order ('fortran_order': True); only C order is supported. " +
                                "Re-save it with np.save(path, np.ascontiguousarray(a)).");
        }

        long[] shape = ParseShape(dict["shape"], source);
        var (type, swap, descr) = ParseDescr(dict["descr"], source);

        long length = 1;
        foreach (long dimension in shape)
        {
            length = MultiplyOrThrow(length, dimension, source, $"shape {NpyArray.FormatShape(shape)} has more elements than a 64-bit count can hold");
        }

        long dataBytes = MultiplyOrThrow(length, NpyTypeInfo.ItemSize(type), source,
            $"shape {NpyArray.FormatShape(shape)} of {descr} needs more bytes than a 64-bit size can hold");

        if (length > Array.MaxLength)
        {
            throw Error(source, $"shape {NpyArray.FormatShape(shape)} of {descr} holds {length} elements ({dataBytes} bytes); " +
                                $"a .NET array holds at most {Array.MaxLength}, so this file must be split (or memory-mapped) to be read.");
        }

        return new NpyHeader(type, swap, shape, length, dataBytes, descr);
    }

    public static InvalidDataException Error(string source, string message, Exception? inner = null) => new($"{source}: {message}", inner);

    private static long MultiplyOrThrow(long a, long b, string source, string message)
    {
        try
        {
            return checked(a * b);
        }
        catch (OverflowException e)
        {
            throw Error(source, message + ".", e);
        }
    }

    private static long[] ParseShape(object? value, string source)
    {
        // A parenthesised single value without a comma, e.g. (3), is just 3 in Python, not a tuple.
        if (value is not PythonTuple tuple)
        {
            throw Error(source, $"expected 'shape' to be a tuple of non-negative integers such as (), (3,) or (2, 3), found {Describe(value)}.");
        }

        var shape = new long[tuple.Items.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            if (tuple.Items[i] is not long dimension || dimension < 0)
            {
                throw Error(source, $"expected 'shape' to be a tuple of non-negative integers, but dimension {i} is {Describe(tuple.Items[i])}.");
            }

            shape[i] = dimension;
        }

        return shape;
    }

    private static (NpyType Type, bool Swap, string Descr) ParseDescr(object? value, string source)
    {
        const string supported = "|b1, |i1, |u1, <i2, <i4, <i8, <f4 or <f8 (or their '>' big-endian and '=' native forms)";
        if (value is PythonList)
        {
            throw Error(source, $"the array has a structured (record) dtype {Describe(value)}; expected a plain numeric dtype: {supported}.");
        }

        if (value is not string descr || descr.Length == 0)
        {
            throw Error(source, $"expected 'descr' to be a dtype string such as '<f8', found {Describe(value)}.");
        }

        char order = descr[0] is '<' or '>' or '=' or '|' ? descr[0] : '=';
        string code = descr[0] is '<' or '>' or '=' or '|' ? descr[1..] : descr;
        NpyType? type = code switch
        {
            "b1" or "?" => NpyType.Bool,
            "i1" => NpyType.Int8,
            "u1" => NpyType.UInt8,
            "i2" => NpyType.Int16,
            "i4" => NpyType.Int32,
            "i8" => NpyType.Int64,
            "f4" => NpyType.Float32,
            "f8" => NpyType.Float64,
            _ => null,
        };

        if (type is not { } t)
        {
            throw Error(source, $"unsupported dtype '{descr}'{KindHint(code)}; expected one of {supported}.");
        }

        int size = NpyTypeInfo.ItemSize(t);
        if (order == '|' && size > 1)
        {
            // '|' means "byte order not applicable", which is only true of one-byte types; for wider ones the order is unknown.
            throw Error(source, $"dtype '{descr}' gives no byte order ('|') for a {size}-byte type; expected '<{code}' or '>{code}'.");
        }

        bool littleEndianData = order switch
        {
            '<' => true,
            '>' => false,
            _ => BitConverter.IsLittleEndian,
        };
        return (t, size > 1 && littleEndianData != BitConverter.IsLittleEndian, descr);
    }

    private static string KindHint(string code) => code.Length == 0 ? "" : code[0] switch
    {
        'U' => " (fixed-length unicode strings)",
        'S' or 'a' => " (fixed-length byte strings)",
        'O' => " (pickled Python objects, which cannot be read safely)",
        'M' or 'm' => " (datetimes/timedeltas)",
        'c' => " (complex numbers)",
        'V' => " (raw void records)",
        'u' => " (unsigned integers wider than one byte)",
        'f' => " (a float width other than 4 or 8 bytes)",
        'i' => " (an integer width other than 1, 2, 4 or 8 bytes)",
        _ => "",
    };

    private static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"'{s}'",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        PythonTuple t => "(" + string.Join(", ", t.Items.Select(Describe)) + (t.Items.Count == 1 ? ",)" : ")"),
        PythonList l => "[" + string.Join(", ", l.Items.Select(Describe)) + "]",
        Dictionary<string, object?> d => "{" + string.Join(", ", d.Select(p => $"'{p.Key}': {Describe(p.Value)}")) + "}",
        _ => value.ToString() ?? "?",
    };

    private static string Shorten(string text)
    {
        string trimmed = text.Trim();
        return trimmed.Length <= 200 ? trimmed : trimmed[..200] + "…";
    }
}

/// <summary>A Python tuple from the header; a distinct type because the shape must be a tuple, not a list.</summary>
internal sealed record PythonTuple(List<object?> Items);

/// <summary>A Python list from the header; only structured dtypes use one.</summary>
internal sealed record PythonList(List<object?> Items);

/// <summary>
/// Parses the subset of Python literal syntax that <c>repr()</c> of a NumPy header dict produces: dicts, tuples, lists,
/// quoted strings, integers, True/False/None. Anything else is an error rather than something evaluated.
/// </summary>
internal sealed class PythonLiteralParser(string text, string source)
{
    // Real headers nest two levels deep; the limit only stops a hostile header from overflowing the stack.
    private const int MaxDepth = 32;

    private int _position;

    /// <summary>Parses one value followed by nothing but whitespace (NumPy pads headers with spaces and a newline).</summary>
    public object? ParseDocument()
    {
        object? value = ParseValue(0);
        SkipWhitespace();
        if (_position < text.Length)
        {
            throw Fail($"unexpected text after the header dict: '{Excerpt()}'");
        }

        return value;
    }

    private object? ParseValue(int depth)
    {
        if (depth > MaxDepth)
        {
            throw Fail("the header nests too deeply");
        }

        SkipWhitespace();
        if (_position >= text.Length)
        {
            throw Fail("the header ends in the middle of a value");
        }

        char c = text[_position];
        return c switch
        {
            '{' => ParseDict(depth),
            '(' => ParseSequence(')', depth, isTuple: true),
            '[' => ParseSequence(']', depth, isTuple: false),
            '\'' or '"' => ParseString(),
            _ when char.IsAsciiDigit(c) || c is '-' or '+' => ParseInteger(),
            _ when char.IsAsciiLetter(c) => ParseName(),
            _ => throw Fail($"unexpected character '{c}' at offset {_position}: '{Excerpt()}'"),
        };
    }

    private Dictionary<string, object?> ParseDict(int depth)
    {
        _position++; // '{'
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        while (true)
        {
            SkipWhitespace();
            if (TryConsume('}'))
            {
                return dict;
            }

            if (ParseValue(depth + 1) is not string key)
            {
                throw Fail("expected the header dict's keys to be strings");
            }

            SkipWhitespace();
            Expect(':');
            object? value = ParseValue(depth + 1);
            if (!dict.TryAdd(key, value))
            {
                throw Fail($"the header dict repeats the key '{key}'");
            }

            SkipWhitespace();
            if (!TryConsume(','))
            {
                SkipWhitespace();
                Expect('}');
                return dict;
            }
        }
    }

    private object? ParseSequence(char close, int depth, bool isTuple)
    {
        _position++; // '(' or '['
        var items = new List<object?>();
        bool sawComma = false;
        while (true)
        {
            SkipWhitespace();
            if (TryConsume(close))
            {
                break;
            }

            items.Add(ParseValue(depth + 1));
            SkipWhitespace();
            if (TryConsume(','))
            {
                sawComma = true;
                continue;
            }

            SkipWhitespace();
            Expect(close);
            break;
        }

        if (!isTuple)
        {
            return new PythonList(items);
        }

        // (x) is a parenthesised expression in Python; only (x,) is a one-element tuple.
        return items.Count == 1 && !sawComma ? items[0] : new PythonTuple(items);
    }

    private string ParseString()
    {
        char quote = text[_position++];
        var builder = new StringBuilder();
        while (_position < text.Length)
        {
            char c = text[_position++];
            if (c == quote)
            {
                return builder.ToString();
            }

            if (c == '\\' && _position < text.Length)
            {
                // The only escapes a descr or key could contain are quotes and backslashes; keep the escaped character.
                c = text[_position++];
            }

            builder.Append(c);
        }

        throw Fail("a string in the header is not closed");
    }

    private long ParseInteger()
    {
        int start = _position;
        if (text[_position] is '-' or '+')
        {
            _position++;
        }

        while (_position < text.Length && char.IsAsciiDigit(text[_position]))
        {
            _position++;
        }

        string digits = text[start.._position];
        // Python 2 wrote long integers with an 'L' suffix, e.g. (3L, 4L); NumPy still reads such files.
        if (_position < text.Length && text[_position] is 'L' or 'l')
        {
            _position++;
        }

        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            throw Fail($"'{digits}' is not an integer that fits in 64 bits");
        }

        return value;
    }

    private object? ParseName()
    {
        int start = _position;
        while (_position < text.Length && (char.IsAsciiLetterOrDigit(text[_position]) || text[_position] == '_'))
        {
            _position++;
        }

        string name = text[start.._position];
        return name switch
        {
            "True" => true,
            "False" => false,
            "None" => null,
            _ => throw Fail($"unexpected name '{name}' in the header; only True, False and None are allowed"),
        };
    }

    private void SkipWhitespace()
    {
        while (_position < text.Length && text[_position] is ' ' or '\t' or '\n' or '\r' or '\f' or '\v' or '\0')
        {
            _position++;
        }
    }

    private bool TryConsume(char c)
    {
        if (_position < text.Length && text[_position] == c)
        {
            _position++;
            return true;
        }

        return false;
    }

    private void Expect(char c)
    {
        if (!TryConsume(c))
        {
            throw Fail(_position < text.Length
                ? $"expected '{c}' at offset {_position} of the header, found '{Excerpt()}'"
                : $"expected '{c}' but the header ended");
        }
    }

    private string Excerpt()
    {
        string rest = text[_position..];
        return rest.Length <= 40 ? rest : rest[..40] + "…";
    }

    private InvalidDataException Fail(string message) => NpyHeader.Error(source, "malformed .npy header: " + message + ".");
}
