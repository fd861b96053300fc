using System.Globalization;

namespace LieConv.Datasets.Io;

/// <summary>
/// Reads the <c>.amat</c> text files of the ICML 2007 "variations on MNIST" benchmarks, among them the official
/// RotMNIST files (<c>mnist_all_rotation_normalized_float_*.amat</c>): one image per line, its pixel intensities in
/// [0, 1] then its class label, all written as floating-point numbers separated by spaces.
/// </summary>
/// <remarks>
/// <para>Rows stream one line at a time (the RotMNIST test file has 50,000 lines of 785 numbers), and the file is opened
/// anew on every enumeration. Blank lines are skipped, as NumPy's <c>loadtxt</c> (which the original loader relies on)
/// skips them.</para>
/// <para>Every malformed line throws <see cref="InvalidDataException"/> whose message starts with the file and line
/// number and says what was expected: a wrong count of numbers, a token that is not a number, a pixel outside [0, 1]
/// or NaN, or a label that is not an integer class.</para>
/// </remarks>
public static class Amat
{
    /// <summary>Pixels per RotMNIST row: 28 × 28.</summary>
    public const int RotMnistPixelCount = 28 * 28;

    /// <summary>Classes of RotMNIST: the digits 0 to 9.</summary>
    public const int RotMnistClassCount = 10;

    /// <summary>
    /// Streams the rows of an <c>.amat</c> file whose lines hold <paramref name="pixelCount"/> intensities and a label.
    /// </summary>
    /// <param name="path">The file to read.</param>
    /// <param name="pixelCount">The intensities per line, before the label.</param>
    /// <param name="classCount">Labels must be integers from 0 to <paramref name="classCount"/> − 1.</param>
    /// <exception cref="InvalidDataException">(During enumeration) a line is malformed; the message names the file and line.</exception>
    public static IEnumerable<AmatRow> ReadRows(string path, int pixelCount = RotMnistPixelCount, int classCount = RotMnistClassCount)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ReadRows(() => new StreamReader(path, new FileStreamOptions { Options = FileOptions.SequentialScan, BufferSize = 1 << 16 }), path, pixelCount, classCount);
    }

    /// <summary>Streams the rows of the <c>.amat</c> text that <paramref name="open"/> returns; see <see cref="ReadRows(string, int, int)"/>.</summary>
    /// <param name="open">Opens the text, once per enumeration; the reader is disposed afterwards.</param>
    /// <param name="source">Identifies the text in error messages, e.g. its path.</param>
    /// <param name="pixelCount">The intensities per line, before the label.</param>
    /// <param name="classCount">Labels must be integers from 0 to <paramref name="classCount"/> − 1.</param>
    public static IEnumerable<AmatRow> ReadRows(Func<TextReader> open, string source, int pixelCount = RotMnistPixelCount, int classCount = RotMnistClassCount)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pixelCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        return ReadCore(open, source, pixelCount, classCount);
    }

    private static IEnumerable<AmatRow> ReadCore(Func<TextReader> open, string source, int pixelCount, int classCount)
    {
        using var reader = open() ?? throw new InvalidOperationException($"The reader factory for '{source}' returned null.");
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            yield return ParseLine(line, source, lineNumber, pixelCount, classCount);
        }
    }

    private static AmatRow ParseLine(string line, string source, long lineNumber, int pixelCount, int classCount)
    {
        // Counted first so that a short or long line is reported as such, not as its label being read as a pixel.
        int count = 0;
        ReadOnlySpan<char> rest = line;
        while (NextToken(ref rest, out _))
        {
            count++;
        }

        if (count != pixelCount + 1)
        {
            throw LineError(source, lineNumber, $"found {count} numbers; expected {pixelCount + 1} ({pixelCount} pixel intensities, then the label).");
        }

        var pixels = new float[pixelCount];
        double label = double.NaN;
        count = 0;
        rest = line;
        while (NextToken(ref rest, out var token))
        {
            count++;
            if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            {
                throw LineError(source, lineNumber, $"number {count} is '{Shorten(token)}', which is not a number; expected {pixelCount} pixel intensities " +
                                                    "and a label written as decimal numbers (e.g. 0.5 or 5.0e-01).");
            }

            if (count <= pixelCount)
            {
                // Parsed as double and then rounded, as np.loadtxt (float64) followed by .float() does.
                if (!(value >= 0 && value <= 1))
                {
                    throw LineError(source, lineNumber, $"pixel {count} is {Format(value)}; expected an intensity in [0, 1].");
                }

                pixels[count - 1] = (float)value;
            }
            else
            {
                label = value;
            }
        }

        if (!(label >= 0 && label < classCount && label == Math.Floor(label)))
        {
            throw LineError(source, lineNumber, $"the label (number {count}) is {Format(label)}; expected an integer class from 0 to {classCount - 1}.");
        }

        return new AmatRow(pixels, (int)label, lineNumber);
    }

    private static bool NextToken(ref ReadOnlySpan<char> rest, out ReadOnlySpan<char> token)
    {
        int start = 0;
        while (start < rest.Length && IsSeparator(rest[start]))
        {
            start++;
        }

        int end = start;
        while (end < rest.Length && !IsSeparator(rest[end]))
        {
            end++;
        }

        token = rest[start..end];
        rest = rest[end..];
        return !token.IsEmpty;
    }

    private static bool IsSeparator(char c) => c is ' ' or '\t' or '\r' or '\n';

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Shorten(ReadOnlySpan<char> token) => token.Length <= 40 ? token.ToString() : token[..40].ToString() + "…";

    private static InvalidDataException LineError(string source, long lineNumber, string message) => new($"{source}, line {lineNumber}: {message}");
}
