using System.Globalization;
using System.Text;

namespace LieConv.Samples;

/// <summary>
/// The original scripts' command-line values (reference §5.1): Python dict literals such as
/// <c>{'k':128,'group':SE2(.05),'fill':1/2}</c> for <c>--net_config</c> and <c>--split</c>, whose values are Python
/// expressions. We read the dict's keys and keep each value's text; numbers may be written as fractions.
/// </summary>
public static class OriginalSyntax
{
    /// <summary>The entries of a dict literal, keys without quotes, values as written (quotes removed from strings).</summary>
    /// <exception cref="FormatException">The text is not a <c>{key: value, …}</c> literal.</exception>
    public static IReadOnlyDictionary<string, string> ParseDict(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string body = text.Trim();
        if (body.Length < 2 || body[0] != '{' || body[^1] != '}')
            throw new FormatException($"'{text}' is not a dict literal like {{'k':128,'group':SE2(.05)}}.");
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string item in SplitTopLevel(body[1..^1]))
        {
            if (string.IsNullOrWhiteSpace(item)) continue;
            int colon = IndexOfTopLevel(item, ':');
            if (colon < 0)
                throw new FormatException($"'{item.Trim()}' in '{text}' has no ':'; expected 'key': value.");
            string key = Unquote(item[..colon].Trim());
            string value = Unquote(item[(colon + 1)..].Trim());
            if (key.Length == 0 || value.Length == 0)
                throw new FormatException($"'{item.Trim()}' in '{text}' needs a key and a value.");
            entries[key] = value;
        }
        return entries;
    }

    /// <summary>A number written as the original's expressions allow: <c>3e-3</c>, <c>.05</c>, <c>1/2</c>, <c>1/64</c>.</summary>
    /// <exception cref="FormatException">It is not a number or a fraction of two numbers.</exception>
    public static double ParseNumber(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/');
        if (parts.Length is 1 or 2 && parts.All(p => double.TryParse(p.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
        {
            double value = double.Parse(parts[0].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture);
            return parts.Length == 1 ? value : value / double.Parse(parts[1].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        throw new FormatException($"'{text}' is not a number (e.g. 0.1, 3e-3, 1/2).");
    }

    /// <summary>A Python boolean (<c>True</c>/<c>False</c>) or 1/0.</summary>
    /// <exception cref="FormatException">It is neither.</exception>
    public static bool ParseBool(string text) => text.Trim() switch
    {
        "True" or "true" or "1" => true,
        "False" or "false" or "0" => false,
        _ => throw new FormatException($"'{text}' is not a boolean (True or False)."),
    };

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        int start = 0;
        foreach (int comma in TopLevelIndices(text, ','))
        {
            yield return text[start..comma];
            start = comma + 1;
        }
        yield return text[start..];
    }

    private static int IndexOfTopLevel(string text, char wanted) => TopLevelIndices(text, wanted).DefaultIfEmpty(-1).First();

    /// <summary>Where <paramref name="wanted"/> stands outside quotes and brackets, so values like SE2(.05) or (1, 2) stay whole.</summary>
    private static IEnumerable<int> TopLevelIndices(string text, char wanted)
    {
        int depth = 0;
        char quote = '\0';
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quote != '\0') { if (c == quote) quote = '\0'; continue; }
            if (c is '\'' or '"') quote = c;
            else if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}') depth--;
            else if (c == wanted && depth == 0) yield return i;
        }
    }

    private static string Unquote(string text)
        => text.Length >= 2 && (text[0] == '\'' || text[0] == '"') && text[^1] == text[0] ? text[1..^1] : text;
}
