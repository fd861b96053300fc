using LieConv.Datasets.Io;
using LieConv.Datasets.Qm9;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.Qm9;

/// <summary>The Cormorant/LieConv <c>.npz</c> split reader on the shared test split (the README's checks) and on broken
/// hand-made files, and the rows as an ML.NET data view.</summary>
[TestFixture]
public sealed class Qm9NpzSplitTests
{
    private string _directory = "";

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "lieconv-qm9-npz-tests-" + Guid.NewGuid().ToString("N"));
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
    public void SharedTestSplit_Has13083MoleculesThatPassTheReadmesChecks()
    {
        string path = TestData.RequireSharedFile(Qm9TestFiles.TestNpz);
        var split = Qm9NpzSplit.ReadFile(path);
        var exclusions = Qm9Exclusions.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.Uncharacterized));

        Assert.That(split.Count, Is.EqualTo(13_083));
        Assert.That(split.MaxAtoms, Is.EqualTo(29));
        Assert.That(split.HasAtomReferences, Is.True);
        var atomCounts = Enumerable.Range(0, split.Count).Select(split.AtomCount).ToList();
        Assert.That((atomCounts.Min(), atomCounts.Max()), Is.EqualTo((7, 29)));

        var indices = Enumerable.Range(0, split.Count).Select(split.Index).ToList();
        Assert.That((indices[0], indices[^1]), Is.EqualTo((11, 133_850)));
        Assert.That(indices.Zip(indices.Skip(1)).All(p => p.First < p.Second), Is.True, "sorted ascending: archive order");
        Assert.That(indices.Where(exclusions.Contains), Is.Empty, "no uncharacterized molecule");

        var elements = new HashSet<int>();
        for (int i = 0; i < split.Count; i++)
        {
            foreach (int z in split.AtomicNumbers(i))
            {
                elements.Add(z);
            }

            Assert.That(split.AtomReferenceSum(Qm9Target.Zpve, i), Is.Zero);
            double gap = split.Property(Qm9Property.Gap, i), homo = split.Property(Qm9Property.Homo, i), lumo = split.Property(Qm9Property.Lumo, i);
            Assert.That(Math.Abs(gap - (lumo - homo)), Is.LessThanOrEqualTo(1e-4 + 1e-6), $"molecule {i}: gap − (lumo − homo)");
            foreach (var target in Qm9AtomReferences.Targets)
            {
                // Cormorant's sums from the same atomref.txt values, reproduced bit for bit.
                Assert.That(split.AtomReferenceSum(target, i), Is.EqualTo(Qm9AtomReferences.Official.Sum(target, split.AtomicNumbers(i))),
                    $"molecule {i}, {Qm9Targets.Name(target)}_thermo");
            }
        }

        Assert.That(elements, Is.EquivalentTo(Qm9Elements.AtomicNumbers));
    }

    [Test]
    public void SharedTestSplit_PaddingIsZero_AndRowsHoldOnlyRealAtoms()
    {
        string path = TestData.RequireSharedFile(Qm9TestFiles.TestNpz);
        var positions = (float[])Npy.ReadNpzMember(path, "positions").Data;
        var split = Qm9NpzSplit.ReadFile(path);
        int i = 0;
        foreach (var row in split.Rows(Qm9Target.Homo))
        {
            int n = split.AtomCount(i);
            Assert.That(row.Charges, Has.Length.EqualTo(n));
            Assert.That(row.Points, Is.EqualTo(positions.AsSpan(i * 29 * 3, n * 3).ToArray()));
            Assert.That(positions.AsSpan(i * 29 * 3 + n * 3, (29 - n) * 3).ToArray(), Is.All.Zero, $"molecule {i} padding");
            Assert.That(row.Index, Is.EqualTo(split.Index(i)));
            i++;
        }

        Assert.That(i, Is.EqualTo(13_083));
    }

    [Test]
    public void Rows_SubtractTheStoredReferencesAndConvertUnits()
    {
        var split = Qm9NpzSplit.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.TestNpz));
        var row = split.Row(0, Qm9Target.U0);
        var raw = split.Row(0, Qm9Target.U0, subtractAtomReferences: false);

        double u0 = split.Property(Qm9Property.U0, 0);
        Assert.That(u0, Is.LessThan(-100), "a total energy in Hartree");
        Assert.That(row.Label, Is.EqualTo((float)((u0 - split.AtomReferenceSum(Qm9Target.U0, 0)) * 27.2114)));
        Assert.That(row.Label, Is.InRange(-200f, -5f), "an atomisation energy in eV");
        Assert.That(raw.Label, Is.EqualTo((float)(u0 * 27.2114)));
        Assert.That(row.GetTarget(Qm9Target.Cv), Is.EqualTo((float)(split.Property(Qm9Property.Cv, 0) - split.AtomReferenceSum(Qm9Target.Cv, 0))));
        Assert.That(row.GetTarget(Qm9Target.Zpve), Is.EqualTo((float)(split.Property(Qm9Property.Zpve, 0) * 27211.4)));
        Assert.That(row.GetTarget(Qm9Target.Alpha), Is.EqualTo((float)split.Property(Qm9Property.Alpha, 0)));
        Assert.That(split.Rows(Qm9Target.Gap).First().Label, Is.EqualTo(row.GetTarget(Qm9Target.Gap)));
    }

    [Test]
    public void Rows_LoadIntoMlNetWithPointCloudColumns()
    {
        var split = Qm9NpzSplit.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.TestNpz));
        var ml = new MLContext(seed: 1);
        var view = ml.Data.LoadFromEnumerable(split.Rows(Qm9Target.Homo));

        Assert.That(view.Schema["Points"].Type, Is.InstanceOf<VectorDataViewType>());
        var points = (VectorDataViewType)view.Schema["Points"].Type;
        Assert.That((points.ItemType, points.Dimensions.ToArray()), Is.EqualTo((NumberDataViewType.Single, new[] { 0, 3 })));
        Assert.That(((VectorDataViewType)view.Schema["Charges"].Type).ItemType, Is.EqualTo(NumberDataViewType.Single));
        Assert.That(view.Schema["Label"].Type, Is.EqualTo(NumberDataViewType.Single));
        Assert.That(((VectorDataViewType)view.Schema["Targets"].Type).Size, Is.EqualTo(12));
        Assert.That(view.Schema.GetColumnOrNull("AtomCount"), Is.Null);

        var back = ml.Data.CreateEnumerable<Qm9Molecule>(view, reuseRowObject: false).Take(3).ToList();
        var direct = split.Rows(Qm9Target.Homo).Take(3).ToList();
        Assert.That(back.Select(r => r.Label), Is.EqualTo(direct.Select(r => r.Label)));
        Assert.That(back[2].Points, Is.EqualTo(direct[2].Points));
        Assert.That(back[2].Charges, Is.EqualTo(direct[2].Charges));
    }

    [Test]
    public void MissingArray_IsAnErrorNamingFileAndArray()
    {
        string path = Write("noindex.npz", includeIndex: false);
        var error = Assert.Throws<InvalidDataException>(() => Qm9NpzSplit.ReadFile(path));
        Assert.That(error!.Message, Does.StartWith($"{path}: no array 'index'"));
    }

    [Test]
    public void WrongShape_IsAnErrorNamingFileAndArray()
    {
        string path = Write("shape.npz", positions: new NpyArray("positions", new float[2 * 3 * 2], [2, 3, 2]));
        var error = Assert.Throws<InvalidDataException>(() => Qm9NpzSplit.ReadFile(path));
        Assert.That(error!.Message, Does.StartWith($"{path}, array 'positions': expected shape (2, 3, 3), found (2, 3, 2)"));
    }

    [Test]
    public void AtomAfterNumAtoms_IsAnErrorNamingTheMolecule()
    {
        string path = Write("padding.npz", charges: new NpyArray("charges", new long[] { 6, 1, 1, 8, 1, 1 }, [2, 3]));
        var error = Assert.Throws<InvalidDataException>(() => Qm9NpzSplit.ReadFile(path));
        Assert.That(error!.Message, Does.StartWith($"{path}, array 'charges': molecule 0 (num_atoms 2) has Z = 1 at atom 2; expected 0 (padding)"));
    }

    [Test]
    public void WithoutThermoArrays_RowsNeedSubtractionTurnedOff()
    {
        string path = Write("nothermo.npz", thermo: false);
        var split = Qm9NpzSplit.ReadFile(path);
        Assert.That(split.HasAtomReferences, Is.False);
        Assert.Throws<InvalidOperationException>(() => split.Rows(Qm9Target.U0));
        Assert.That(split.Rows(Qm9Target.U0, subtractAtomReferences: false).Select(r => r.Label), Is.EqualTo(new[] { (float)(-40.5 * 27.2114), (float)(-76.4f * 27.2114) }));
    }

    /// <summary>A two-molecule split (CH, OHH) padded to 3 atoms, with parts replaceable to break it.</summary>
    private string Write(string name, NpyArray? positions = null, NpyArray? charges = null, bool includeIndex = true, bool thermo = true)
    {
        var arrays = new List<NpyArray>
        {
            new("num_atoms", new long[] { 2, 3 }, [2]),
            charges ?? new NpyArray("charges", new long[] { 6, 1, 0, 8, 1, 1 }, [2, 3]),
            positions ?? new NpyArray("positions", new float[2 * 3 * 3], [2, 3, 3]),
        };
        if (includeIndex)
        {
            arrays.Add(new NpyArray("index", new long[] { 1, 3 }, [2]));
        }

        foreach (string key in new[] { "A", "B", "C", "mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U", "H", "G", "Cv" })
        {
            arrays.Add(new NpyArray(key, new float[] { 1, 2 }, [2]));
        }

        arrays.Add(new NpyArray("U0", new float[] { -40.5f, -76.4f }, [2]));
        if (thermo)
        {
            foreach (string key in new[] { "zpve", "U0", "U", "H", "G", "Cv" })
            {
                arrays.Add(new NpyArray(key + "_thermo", new double[] { 0.5, 0.25 }, [2]));
            }
        }

        string path = Path.Combine(_directory, name);
        Npy.WriteNpzFile(path, arrays);
        return path;
    }
}
