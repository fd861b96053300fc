using LieConv.Datasets.Io;
using LieConv.Datasets.Qm9;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.Qm9;

/// <summary>The original QM9 .xyz format: the shared 10-molecule file, quirks (<c>1.</c>, <c>*^</c>, 72 frequencies),
/// malformed input (each error names file and line), and the same molecules through a folder and a .tar.bz2.</summary>
[TestFixture]
public sealed class Qm9XyzReaderTests
{
    private string _directory = "";

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "lieconv-qm9-xyz-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Test]
    public void SharedFile_HasTheTenMoleculesOfTheReadme()
    {
        var molecules = Qm9XyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.SampleXyz)).ToList();

        Assert.That(molecules.Select(m => m.Index), Is.EqualTo(Qm9TestFiles.SampleIndices));
        Assert.That(molecules.Select(m => m.AtomCount), Is.EqualTo(new[] { 5, 4, 3, 4, 3, 4, 8, 8, 12, 14 }));
        Assert.That(molecules.Select(m => Qm9Elements.Formula(m.AtomicNumbers)),
            Is.EqualTo(new[] { "CH4", "H3N", "H2O", "C2H2", "CHN", "CH2O", "C2H6", "C2H3N3", "C3H4N4O", "C7H6O" }));
        foreach (var molecule in molecules)
        {
            Assert.That(molecule.Positions, Has.Count.EqualTo(3 * molecule.AtomCount));
            Assert.That(molecule.MullikenCharges, Has.Count.EqualTo(molecule.AtomCount));
            Assert.That(molecule.GdbInchi, Does.StartWith("InChI=1S/"));
        }
    }

    [Test]
    public void Methane_ValuesAreParsedExactlyInDouble()
    {
        var methane = Qm9XyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.SampleXyz)).First();

        Assert.That(methane.Index, Is.EqualTo(1));
        Assert.That(methane.Properties, Is.EqualTo(new[]
        {
            157.7118, 157.70997, 157.70699, 0.0, 13.21, -0.3877, 0.1171, 0.5048, 35.3641, 0.044749, -40.47893, -40.476062, -40.475117, -40.498597, 6.469,
        }));
        Assert.That(methane[Qm9Property.U0], Is.EqualTo(-40.47893), "double, not float32 (-40.47893 has no exact float)");
        Assert.That((double)(float)methane[Qm9Property.U0], Is.Not.EqualTo(methane[Qm9Property.U0]));
        Assert.That(methane.AtomicNumbers, Is.EqualTo(new[] { 6, 1, 1, 1, 1 }));
        Assert.That(methane.Positions.Take(3), Is.EqualTo(new[] { -0.0126981359, 1.0858041578, 0.0080009958 }));
        Assert.That(methane.Positions.Skip(12), Is.EqualTo(new[] { -0.5238136345, 1.4379326443, 0.9063972942 }));
        Assert.That(methane.MullikenCharges, Is.EqualTo(new[] { -0.535689, 0.133921, 0.133922, 0.133923, 0.133923 }));
        Assert.That(methane.Frequencies, Has.Count.EqualTo(9), "3·5 − 6");
        Assert.That(methane.Omega1, Is.EqualTo(3151.7078));
        Assert.That((methane.GdbSmiles, methane.RelaxedSmiles), Is.EqualTo(("C", "C")));
        Assert.That((methane.GdbInchi, methane.RelaxedInchi), Is.EqualTo(("InChI=1S/CH4/h1H4", "InChI=1S/CH4/h1H4")));
        Assert.That(methane.ToString(), Is.EqualTo("gdb 1 (5 atoms, CH4)"));
    }

    [Test]
    public void Quirks_TrailingDotNumbersImaginaryFrequencyAndDoubledFrequencyLine()
    {
        var molecules = Qm9XyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.SampleXyz)).ToDictionary(m => m.Index);

        var acetylene = molecules[4];
        Assert.That(acetylene[Qm9Property.A], Is.Zero, "written '0.'");
        Assert.That(Enumerable.Range(0, 4).Select(a => acetylene.Positions[3 * a + 2]), Is.All.EqualTo(1.0), "z written '1.' on every atom");
        Assert.That(molecules[5].Frequencies, Has.Count.EqualTo(4), "HCN is linear: 3·3 − 5");
        Assert.That(molecules[6620].Frequencies, Has.Count.EqualTo(72), "unconverged molecule: two runs of 3·14 − 6");
        Assert.That(molecules[6620].Frequencies[0], Is.EqualTo(-2.0226), "an imaginary frequency");
    }

    [Test]
    public void MathematicaExponents_AreReadAsPowersOfTen()
    {
        string text = Qm9TestFiles.Methane
            .Replace("\t 0.0019761204\t", "\t1.9761204*^-3\t")
            .Replace("\t0.044749\t", "\t4.4749*^-2\t")
            .Replace("3151.7078\n", "3.1517078*^3\n");
        var methane = Qm9XyzReader.Read(new StringReader(text), "exponents.xyz").Single();

        Assert.That(methane.Positions[5], Is.EqualTo(1.9761204e-3));
        Assert.That(methane[Qm9Property.Zpve], Is.EqualTo(4.4749e-2));
        Assert.That(methane.Omega1, Is.EqualTo(3.1517078e3));
    }

    [Test]
    public void ConcatenatedBlocks_WithOrWithoutBlankLinesBetweenThem()
    {
        string text = Qm9TestFiles.Methane + Qm9TestFiles.Methane.Replace("gdb 1\t", "gdb 2\t") + "\n\n" + Qm9TestFiles.Methane.Replace("gdb 1\t", "gdb 3\t") + "\n";
        Assert.That(Qm9XyzReader.Read(new StringReader(text), "three.xyz").Select(m => m.Index), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(Qm9XyzReader.Read(new StringReader(Qm9TestFiles.Methane.Replace("\n", "\r\n")), "crlf.xyz").Single().Index, Is.EqualTo(1));
    }

    private static IEnumerable<TestCaseData> MalformedCases()
    {
        string m = Qm9TestFiles.Methane;
        yield return Case(m.Replace("5\n", "five\n"), 1, "expected the atom count", "'five'").SetName("AtomCountNotANumber");
        yield return Case(m.Replace("5\n", "0\n"), 1, "positive integer").SetName("AtomCountZero");
        yield return Case(m.Replace("gdb 1\t", "gbd 1\t"), 2, "start with 'gdb <index>'").SetName("PropertyLineWithoutGdb");
        yield return Case(m.Replace("\t6.469\t", "\t"), 2, "15 properties", "found 14").SetName("PropertyMissing");
        yield return Case(m.Replace("gdb 1\t", "gdb x\t"), 2, "GDB index").SetName("IndexNotANumber");
        yield return Case(m.Replace("-40.476062", "-40.47x"), 2, "property U", "'-40.47x'").SetName("PropertyNotANumber");
        yield return Case(m.Replace("H\t 1.0117308433", "Cl\t 1.0117308433"), 5, "element symbol H, C, N, O or F", "'Cl'").SetName("UnknownElement");
        yield return Case(m.Replace("\t 0.133922\n", "\n"), 5, "5 fields", "found 4").SetName("AtomLineTooShort");
        yield return Case(m.Replace("1.4637511618", "NaN"), 5, "coordinate y of atom 3", "finite").SetName("CoordinateNaN");
        yield return Case(m.Replace("1341.307\t", "1341.307\tabc\t"), 8, "harmonic frequency 2").SetName("FrequencyNotANumber");
        yield return Case(m.Replace("C\tC\t\n", "C\n"), 9, "two SMILES strings").SetName("OneSmiles");
        yield return Case(m.Replace("InChI=1S/CH4/h1H4\tInChI", "1S/CH4/h1H4\tInChI"), 10, "starting with 'InChI='").SetName("NotAnInchi");
        yield return Case(m[..m.IndexOf("InChI", StringComparison.Ordinal)], 10, "ends where the InChI line was expected").SetName("TruncatedBeforeInchi");
        yield return Case(m[..m.IndexOf("H\t-0.540815069", StringComparison.Ordinal)], 6, "ends where atom line 4 of 5").SetName("TruncatedInAtoms");
        // Line 13 says 4 atoms, so the fifth atom line (19) is read as the frequency line.
        yield return Case(m + "\n\n" + m.Replace("5\n", "4\n"), 19, "harmonic frequency 1", "'H'").SetName("SecondBlockWithWrongCount");
    }

    private static TestCaseData Case(string text, int line, params string[] fragments) => new(text, line, fragments);

    [TestCaseSource(nameof(MalformedCases))]
    public void MalformedInput_ErrorNamesFileLineAndWhatWasExpected(string text, int line, string[] fragments)
    {
        var error = Assert.Throws<InvalidDataException>(() => Qm9XyzReader.Read(new StringReader(text), "bad.xyz").ToList());
        Assert.That(error!.Message, Does.StartWith($"bad.xyz, line {line}: "));
        foreach (string fragment in fragments)
        {
            Assert.That(error.Message, Does.Contain(fragment));
        }
    }

    [Test]
    public void EmptyFile_IsAnErrorNamingTheFile()
    {
        string path = Path.Combine(_directory, "empty.xyz");
        File.WriteAllText(path, "\n\n");
        var error = Assert.Throws<InvalidDataException>(() => Qm9XyzReader.ReadFile(path).ToList());
        Assert.That(error!.Message, Does.StartWith(path).And.Contain("expected at least one QM9 molecule"));
    }

    [Test]
    public void Readers_AreLazyAndRestartOnEachEnumeration()
    {
        string path = Path.Combine(_directory, "later.xyz");
        var molecules = Qm9XyzReader.ReadFile(path);
        File.WriteAllText(path, Qm9TestFiles.Methane);
        Assert.That(molecules.Count(), Is.EqualTo(1), "the file is opened only on enumeration");
        Assert.That(molecules.Count(), Is.EqualTo(1), "and again on the next one");
    }

    [Test]
    public void Folder_OfOneFilePerMolecule_GivesTheSameMoleculesInNameOrder()
    {
        string sample = TestData.RequireSharedFile(Qm9TestFiles.SampleXyz);
        var blocks = Qm9TestFiles.SampleBlocks(sample);
        // Written in reverse so that only sorting by name restores GDB order; the zero padding makes name order numeric.
        for (int i = blocks.Count - 1; i >= 0; i--)
        {
            File.WriteAllText(Path.Combine(_directory, Qm9TestFiles.MemberName(Qm9TestFiles.SampleIndices[i])), blocks[i]);
        }

        File.WriteAllText(Path.Combine(_directory, "readme.txt"), "not a molecule");
        var fromFolder = Qm9XyzReader.ReadDirectory(_directory).ToList();

        Assert.That(fromFolder.Select(m => m.Index), Is.EqualTo(Qm9TestFiles.SampleIndices.Order()));
        AssertSameMolecules(fromFolder.OrderBy(m => Array.IndexOf(Qm9TestFiles.SampleIndices, m.Index)).ToList(), Qm9XyzReader.ReadFile(sample).ToList());
    }

    [Test]
    public void TarBz2_GivesTheSameMoleculesAsTheXyzFile_InArchiveOrder()
    {
        string sample = TestData.RequireSharedFile(Qm9TestFiles.SampleXyz);
        var blocks = Qm9TestFiles.SampleBlocks(sample);
        string archive = Path.Combine(_directory, "dsgdb9nsd.xyz.tar.bz2");
        // Archive order, not name order, is what counts: 6620 is stored after 21490 as in the shared file.
        Qm9TestFiles.WriteTarBz2(archive, blocks.Select((b, i) => (Qm9TestFiles.MemberName(Qm9TestFiles.SampleIndices[i]), b)));

        var fromArchive = Qm9XyzReader.ReadTarBz2(archive).ToList();

        Assert.That(fromArchive.Select(m => m.Index), Is.EqualTo(Qm9TestFiles.SampleIndices));
        AssertSameMolecules(fromArchive, Qm9XyzReader.ReadFile(sample).ToList());
        Assert.That(Qm9XyzReader.ReadTarBz2(archive).Count(), Is.EqualTo(10), "a second enumeration reads the archive again");
    }

    [Test]
    public void TarBz2_MemberWithTwoMolecules_IsAnErrorNamingTheMember()
    {
        string archive = Path.Combine(_directory, "two.tar.bz2");
        Qm9TestFiles.WriteTarBz2(archive, [("a.xyz", Qm9TestFiles.Methane), ("b.xyz", Qm9TestFiles.Methane + Qm9TestFiles.Methane)]);
        var error = Assert.Throws<InvalidDataException>(() => Qm9XyzReader.ReadTarBz2(archive).ToList());
        Assert.That(error!.Message, Does.StartWith($"{archive}, member 'b.xyz': expected exactly one QM9 molecule"));
    }

    [Test]
    public void TarBz2_MalformedMember_ErrorNamesArchiveMemberAndLine()
    {
        string archive = Path.Combine(_directory, "bad.tar.bz2");
        Qm9TestFiles.WriteTarBz2(archive, [("a.xyz", Qm9TestFiles.Methane), ("b.xyz", Qm9TestFiles.Methane.Replace("gdb 1\t", "gdb 2\tx\t"))]);
        var error = Assert.Throws<InvalidDataException>(() => Qm9XyzReader.ReadTarBz2(archive).ToList());
        Assert.That(error!.Message, Does.StartWith($"{archive}, member 'b.xyz', line 2: "));
    }

    [Test]
    public void NotABzip2File_IsAnErrorNamingTheFile()
    {
        string path = Path.Combine(_directory, "plain.tar.bz2");
        File.WriteAllText(path, Qm9TestFiles.Methane);
        var error = Assert.Throws<InvalidDataException>(() => Qm9XyzReader.ReadTarBz2(path).ToList());
        Assert.That(error!.Message, Does.StartWith(path).And.Contain("bzip2"));
    }

    [Test]
    public void TruncatedArchive_IsAnErrorNamingTheFile()
    {
        string archive = Path.Combine(_directory, "whole.tar.bz2");
        Qm9TestFiles.WriteTarBz2(archive, Enumerable.Range(1, 40).Select(i => (Qm9TestFiles.MemberName(i), Qm9TestFiles.Methane.Replace("gdb 1\t", $"gdb {i}\t"))));
        byte[] bytes = File.ReadAllBytes(archive);
        string truncated = Path.Combine(_directory, "truncated.tar.bz2");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<InvalidDataException>(() => Qm9XyzReader.ReadTarBz2(truncated).ToList());
        Assert.That(error!.Message, Does.StartWith(truncated));
    }

    private static void AssertSameMolecules(IReadOnlyList<Qm9XyzMolecule> actual, IReadOnlyList<Qm9XyzMolecule> expected)
    {
        Assert.That(actual, Has.Count.EqualTo(expected.Count));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.That(actual[i].Index, Is.EqualTo(expected[i].Index));
            Assert.That(actual[i].Properties, Is.EqualTo(expected[i].Properties));
            Assert.That(actual[i].AtomicNumbers, Is.EqualTo(expected[i].AtomicNumbers));
            Assert.That(actual[i].Positions, Is.EqualTo(expected[i].Positions));
            Assert.That(actual[i].MullikenCharges, Is.EqualTo(expected[i].MullikenCharges));
            Assert.That(actual[i].Frequencies, Is.EqualTo(expected[i].Frequencies));
            Assert.That(actual[i].RelaxedInchi, Is.EqualTo(expected[i].RelaxedInchi));
        }
    }
}
