using System.Globalization;
using LieConv.Datasets.Io;
using LieConv.Datasets.RotMnist;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.RotMnist;

/// <summary>The <c>.amat</c> reader on small fixture files: correct rows, and every kind of malformed line.</summary>
[TestFixture]
public sealed class AmatTests : RotMnistTempFolder
{
    private static string Line(IEnumerable<double> pixels, double label, string separator = " ") =>
        string.Join(separator, pixels.Append(label).Select(v => v.ToString("E18", CultureInfo.InvariantCulture)));

    private static float[] Ramp(int count, int offset) => Enumerable.Range(0, count).Select(i => (float)((i + offset) % 256 / 255.0)).ToArray();

    [Test]
    public void ReadAmat_ReadsRotMnistRowsInOrderWithTheFilesNumberFormat()
    {
        // Three rows as the official files write them (18-digit exponent notation), one with tabs and CRLF, and a blank line.
        var rows = Enumerable.Range(0, 3).Select(k => (Pixels: Ramp(784, 37 * k).Select(v => (double)v).ToArray(), Label: (k * 4) % 10)).ToList();
        string text = Line(rows[0].Pixels, rows[0].Label) + "\n" +
                      "   \n" +
                      "  " + Line(rows[1].Pixels, rows[1].Label, "\t") + " \r\n" +
                      Line(rows[2].Pixels, rows[2].Label) + "\n";
        string path = PathOf(RotMnistDataset.TestFileName);
        File.WriteAllText(path, text);

        var images = RotMnistDataset.ReadAmat(path).ToList();
        Assert.That(images, Has.Count.EqualTo(3));
        for (int k = 0; k < 3; k++)
        {
            Assert.That(images[k].Label, Is.EqualTo(rows[k].Label));
            Assert.That(images[k].Pixels, Is.EqualTo(rows[k].Pixels.Select(v => (float)v).ToArray()));
        }

        var amatRows = Amat.ReadRows(path).ToList();
        Assert.That(amatRows.Select(r => r.LineNumber), Is.EqualTo(new long[] { 1, 3, 4 }), "blank lines are skipped but counted");
    }

    [Test]
    public void ReadRows_ParsesPlainDecimalsAndIntegerLabelsWrittenAsFloats()
    {
        string path = PathOf("small.amat");
        File.WriteAllText(path, "0 1 0.25 5.0e-01 9.000000000000000000e+00\n1e-1 0.0 1.0 .5 0\n");
        var rows = Amat.ReadRows(path, pixelCount: 4).ToList();
        Assert.That(rows.Select(r => r.Label), Is.EqualTo(new[] { 9, 0 }));
        Assert.That(rows[0].Pixels, Is.EqualTo(new[] { 0f, 1f, 0.25f, 0.5f }));
        Assert.That(rows[1].Pixels, Is.EqualTo(new[] { 0.1f, 0f, 1f, 0.5f }));
    }

    [Test]
    public void ReadRows_IsLazyAndReadsTheFileAgainOnEachEnumeration()
    {
        string path = PathOf("lazy.amat");
        File.WriteAllText(path, "0 0 0 0 1\n0 0 0 0 oops\n");
        var rows = Amat.ReadRows(path, pixelCount: 4);
        Assert.That(rows.First().Label, Is.EqualTo(1), "the first row is read without parsing the broken second line");
        File.WriteAllText(path, "0 0 0 0 2\n");
        Assert.That(rows.Single().Label, Is.EqualTo(2));
    }

    private static IEnumerable<TestCaseData> MalformedLines()
    {
        yield return new TestCaseData("0 0.5 1", "found 3 numbers; expected 5 (4 pixel intensities, then the label)").SetName("Too few numbers");
        yield return new TestCaseData("0 0.5 1 0 3 7", "found 6 numbers; expected 5").SetName("Too many numbers");
        yield return new TestCaseData("0 0.5 abc 0 3", "number 3 is 'abc', which is not a number").SetName("Unparsable pixel");
        yield return new TestCaseData("0 0.5 1 0 3,0", "number 5 is '3,0', which is not a number").SetName("Unparsable label");
        yield return new TestCaseData("0 0.5 1.5 0 3", "pixel 3 is 1.5; expected an intensity in [0, 1]").SetName("Pixel above one");
        yield return new TestCaseData("0 -0.25 1 0 3", "pixel 2 is -0.25; expected an intensity in [0, 1]").SetName("Negative pixel");
        yield return new TestCaseData("0 0.5 NaN 0 3", "pixel 3 is NaN; expected an intensity in [0, 1]").SetName("NaN pixel");
        yield return new TestCaseData("0 0.5 1 0 3.5", "the label (number 5) is 3.5; expected an integer class from 0 to 9").SetName("Fractional label");
        yield return new TestCaseData("0 0.5 1 0 10", "the label (number 5) is 10; expected an integer class from 0 to 9").SetName("Label too large");
        yield return new TestCaseData("0 0.5 1 0 -1", "the label (number 5) is -1; expected an integer class").SetName("Negative label");
        yield return new TestCaseData("0 0.5 1 0 NaN", "the label (number 5) is NaN").SetName("NaN label");
    }

    [TestCaseSource(nameof(MalformedLines))]
    public void MalformedLine_ThrowsNamingTheFileAndLineNumber(string badLine, string fragment)
    {
        // Two good lines and a blank one first, so the bad line is line 4.
        string path = PathOf("broken.amat");
        File.WriteAllText(path, "0 0 0 0 1\n0.5 0.5 0.5 0.5 2\n\n" + badLine + "\n0 0 0 0 3\n");
        var rows = Amat.ReadRows(path, pixelCount: 4);
        var error = Assert.Throws<InvalidDataException>(() => rows.ToList())!;
        Assert.That(error.Message, Does.StartWith(path + ", line 4: ").And.Contain(fragment));
    }

    [Test]
    public void MalformedRotMnistLine_ThrowsNamingTheFileAndLineNumber()
    {
        string path = PathOf(RotMnistDataset.TrainFileName);
        File.WriteAllText(path, Line(new double[784], 3) + "\n" + Line(new double[783], 3) + "\n");
        Assert.That(() => RotMnistDataset.ReadAmat(path).ToList(), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(path + ", line 2: ").And.Message.Contains("found 784 numbers; expected 785 (784 pixel intensities, then the label)"));
    }
}
