using LieConv.Datasets.Io;
using LieConv.Datasets.Qm9;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.Qm9;

/// <summary>The extended-XYZ reader on the shared 100-molecule file, cross-checked against the original-format file and
/// the npz test split (README §3).</summary>
[TestFixture]
public sealed class Qm9ExtendedXyzTests
{
    [Test]
    public void SharedFile_Has100MoleculesAnd1001Atoms()
    {
        var molecules = Qm9ExtendedXyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.ExtendedXyz)).ToList();

        Assert.That(molecules, Has.Count.EqualTo(100));
        var atoms = molecules.SelectMany(m => m.AtomicNumbers).ToList();
        Assert.That(atoms, Has.Count.EqualTo(1001));
        Assert.That(atoms.GroupBy(z => z).ToDictionary(g => g.Key, g => g.Count()),
            Is.EquivalentTo(new Dictionary<int, int> { [1] = 577, [6] = 297, [8] = 82, [7] = 45 }));
    }

    [Test]
    public void FirstSevenMolecules_AgreeWithTheOriginalFormat()
    {
        var extended = Qm9ExtendedXyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.ExtendedXyz)).Take(7).ToList();
        var original = Qm9XyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.SampleXyz)).Take(7).ToList();

        for (int i = 0; i < 7; i++)
        {
            Assert.That(extended[i].Properties, Is.EqualTo(original[i].Properties), $"gdb {i + 1}: properties agree exactly");
            Assert.That(extended[i].AtomicNumbers, Is.EqualTo(original[i].AtomicNumbers));
            Assert.That(extended[i].Positions, Is.EqualTo(original[i].Positions).Within(5e-9), "the file rounds to 8 decimals");
            Assert.That(extended[i].ToRow(i + 1, Qm9Target.U0, Qm9AtomReferences.Official).Targets,
                Is.EqualTo(Qm9Dataset.ToRow(original[i], Qm9Target.U0, Qm9AtomReferences.Official).Targets));
        }
    }

    [Test]
    public void MoleculesInTheTestSplit_AgreeWithTheNpzToFloat32Precision()
    {
        var extended = Qm9ExtendedXyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.ExtendedXyz)).ToList();
        var exclusions = Qm9Exclusions.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.Uncharacterized));
        var split = Qm9NpzSplit.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.TestNpz));
        // The file holds the first 100 kept molecules: GDB 1 … 103 without 58, 61 and 80.
        int[] gdb = Enumerable.Range(1, 103).Where(i => !exclusions.Contains(i)).ToArray();
        Assert.That(gdb, Has.Length.EqualTo(100));

        var matched = new List<int>();
        for (int row = 0; row < split.Count && split.Index(row) <= 103; row++)
        {
            var molecule = extended[Array.IndexOf(gdb, split.Index(row))];
            matched.Add(split.Index(row));
            Assert.That(split.AtomicNumbers(row).ToArray(), Is.EqualTo(molecule.AtomicNumbers));
            Assert.That(split.Positions(row).ToArray(), Is.EqualTo(molecule.Positions.Select(p => (float)p)).Within(1e-6));
            foreach (var property in Enum.GetValues<Qm9Property>())
            {
                Assert.That(split.Property(property, row), Is.EqualTo((double)(float)molecule[property]), $"gdb {split.Index(row)}, {property}");
            }
        }

        Assert.That(matched, Is.EqualTo(new[] { 11, 14, 22, 31, 44, 78, 97, 99 }), "the README's cross-checked molecules");
    }

    [Test]
    public void MissingProperty_IsAnErrorNamingFileAndLine()
    {
        const string text = "1\nProperties=species:S:1:pos:R:3 A=1 B=2 C=3 mu=0 alpha=1 epsHOMO=-0.3 epsLUMO=0.1 epsgap=0.4 <R2>=1 zpve=0.1 U0=-1 U=-1 H=-1 G=-1 pbc=\"F F F\"\nH 0 0 0\n";
        var error = Assert.Throws<InvalidDataException>(() => Qm9ExtendedXyzReader.Read(new StringReader(text), "x.xyz").ToList());
        Assert.That(error!.Message, Is.EqualTo("x.xyz, line 2: expected all 15 QM9 properties on the comment line, but Cv is missing."));

        var badAtom = Assert.Throws<InvalidDataException>(() => Qm9ExtendedXyzReader.Read(new StringReader(text.Replace("G=-1", "G=-1 Cv=2").Replace("H 0 0 0", "Xe 0 0 0")), "x.xyz").ToList());
        Assert.That(badAtom!.Message, Does.StartWith("x.xyz, line 3: expected atom line 1 of 1"));
    }
}
