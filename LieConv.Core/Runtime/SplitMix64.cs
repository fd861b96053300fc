namespace LieConv.Runtime;

/// <summary>
/// Vigna's SplitMix64: a 64-bit state advanced by the golden gamma, and Stafford's variant-13 finaliser, which moves
/// every input bit into every output bit (the C# loops' random streams and hash tables).
/// </summary>
internal static class SplitMix64
{
    /// <summary>The golden gamma, ⌊2⁶⁴/φ⌋ made odd: the state's step.</summary>
    public const ulong Gamma = 0x9E3779B97F4A7C15UL;

    /// <summary>The next number of the stream whose state is <paramref name="state"/>, advancing it.</summary>
    public static ulong Next(ref ulong state) => Mix(state += Gamma);

    /// <summary>The finaliser: a bijection of 64-bit values with full avalanche.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
