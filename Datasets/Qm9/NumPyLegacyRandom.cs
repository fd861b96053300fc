namespace LieConv.Datasets.Qm9;

/// <summary>
/// A bit-exact port of the parts of NumPy's legacy global generator (<c>np.random.seed</c> /
/// <c>np.random.RandomState</c>, MT19937) that dataset splits use: seeding with an integer, raw 32-bit draws,
/// bounded integers and <c>permutation</c>/<c>shuffle</c> of a 1-d array.
/// </summary>
/// <remarks>
/// Cormorant's QM9 split is <c>np.random.seed(0); np.random.permutation(130831)</c>; reproducing it in .NET needs the
/// same generator and the same rejection sampling, not merely "a" Mersenne Twister. Checked against NumPy:
/// <c>seed(0)</c> gives raw draws 2357136044, 2546248239, 3071714933 and <c>permutation(10)</c> = [2, 8, 4, 9, 1, 6, 7, 3, 0, 5].
/// </remarks>
public sealed class NumPyLegacyRandom
{
    private const int StateLength = 624;
    private const int Shift = 397;
    private const uint MatrixA = 0x9908b0df;
    private const uint UpperMask = 0x80000000;
    private const uint LowerMask = 0x7fffffff;

    private readonly uint[] _state = new uint[StateLength];
    private int _position;

    /// <summary>A generator in the state <c>np.random.seed(seed)</c> leaves NumPy's legacy global generator in.</summary>
    /// <param name="seed">The seed; NumPy accepts 0 … 2³²−1 for an integer seed.</param>
    public NumPyLegacyRandom(uint seed)
    {
        // init_genrand (Matsumoto & Nishimura 2002), which legacy NumPy's mt19937_seed is.
        _state[0] = seed;
        for (int i = 1; i < StateLength; i++)
        {
            uint previous = _state[i - 1];
            _state[i] = unchecked((1812433253u * (previous ^ (previous >> 30))) + (uint)i);
        }

        _position = StateLength;
    }

    /// <summary>The next raw 32-bit output (MT19937 <c>genrand_int32</c>).</summary>
    public uint NextUInt32()
    {
        if (_position >= StateLength)
        {
            Regenerate();
        }

        uint y = _state[_position++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >> 18;
        return y;
    }

    /// <summary>
    /// A uniform integer in [0, <paramref name="max"/>], inclusive, drawn as legacy NumPy's <c>rk_interval</c> /
    /// <c>random_interval</c> does: mask raw 32-bit draws to the smallest 2ᵏ−1 ≥ max and reject values above max.
    /// </summary>
    /// <param name="max">The inclusive upper bound; 0 consumes no draw.</param>
    public uint Interval(uint max)
    {
        if (max == 0)
        {
            return 0;
        }

        uint mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        uint value;
        do
        {
            value = NextUInt32() & mask;
        }
        while (value > max);

        return value;
    }

    /// <summary>Shuffles in place as legacy NumPy's <c>shuffle</c> does for a 1-d array: Fisher–Yates from the last
    /// element down, <c>j = Interval(i)</c>, swap.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="values">The values to shuffle.</param>
    public void Shuffle<T>(Span<T> values)
    {
        for (int i = values.Length - 1; i >= 1; i--)
        {
            int j = (int)Interval((uint)i);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary>A random permutation of 0 … n−1, equal to legacy NumPy's <c>permutation(n)</c> from the same state.</summary>
    /// <param name="n">The length; not negative.</param>
    public int[] Permutation(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var values = new int[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = i;
        }

        Shuffle<int>(values);
        return values;
    }

    private void Regenerate()
    {
        int k = 0;
        for (; k < StateLength - Shift; k++)
        {
            uint y = (_state[k] & UpperMask) | (_state[k + 1] & LowerMask);
            _state[k] = _state[k + Shift] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : MatrixA);
        }

        for (; k < StateLength - 1; k++)
        {
            uint y = (_state[k] & UpperMask) | (_state[k + 1] & LowerMask);
            _state[k] = _state[k + Shift - StateLength] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : MatrixA);
        }

        uint last = (_state[StateLength - 1] & UpperMask) | (_state[0] & LowerMask);
        _state[StateLength - 1] = _state[Shift - 1] ^ (last >> 1) ^ ((last & 1) == 0 ? 0 : MatrixA);
        _position = 0;
    }
}
