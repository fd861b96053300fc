using System.Text.Json;
using System.Text.Json.Serialization;

namespace LieConv.Samples;

/// <summary>The last line every sample prints: one JSON object with the run's results, for scripts to read.</summary>
public static class ResultLine
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // System.Text.Json refuses NaN; a metric that could not be computed is written as null instead.
        NumberHandling = JsonNumberHandling.Strict,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Serialises <paramref name="result"/> (property names in snake_case) on one line.</summary>
    public static string Format(IReadOnlyDictionary<string, object?> result)
        => JsonSerializer.Serialize(result.ToDictionary(kv => kv.Key, kv => kv.Value is double d && !double.IsFinite(d) ? null : kv.Value), Options);
}
