using LieConv.Datasets.Io;
using LieConv.Datasets.Qm9;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.Qm9;

/// <summary>Cormorant's QM9 preparation: NumPy's seeded permutation, the exclusion list, the split, atom-reference
/// subtraction, unit conversion, target names, statistics and recentring.</summary>
[TestFixture]
public sealed class Qm9PreparationTests
{
    // ---------------------------------------------------------------- NumPy legacy generator

    [Test]
    public void Mt19937_SeededWithZero_GivesNumPysFirstRawDraws()
    {
        var random = new NumPyLegacyRandom(0);
        Assert.That(new[] { random.NextUInt32(), random.NextUInt32(), random.NextUInt32() }, Is.EqualTo(new uint[] { 2357136044, 2546248239, 3071714933 }));
    }

    [TestCase(10, new[] { 2, 8, 4, 9, 1, 6, 7, 3, 0, 5 })]
    [TestCase(5, new[] { 2, 0, 1, 3, 4 })]
    [TestCase(1, new[] { 0 })]
    [TestCase(0, new int[0])]
    public void Permutation_AfterSeedZero_EqualsNumPys(int n, int[] expected) =>
        Assert.That(new NumPyLegacyRandom(0).Permutation(n), Is.EqualTo(expected));

    [Test]
    public void Interval_MasksAndRejects_AndZeroConsumesNoDraw()
    {
        var a = new NumPyLegacyRandom(0);
        var b = new NumPyLegacyRandom(0);
        Assert.That(a.Interval(0), Is.Zero);
        // Mask for 9 is 15: draws are masked to 4 bits and values above 9 rejected, so each result is a masked raw draw.
        var results = Enumerable.Range(0, 200).Select(_ => a.Interval(9)).ToList();
        Assert.That(results, Is.All.InRange(0u, 9u));
        Assert.That(results.Distinct().Count(), Is.EqualTo(10));
        uint first;
        do
        {
            first = b.NextUInt32() & 15;
        }
        while (first > 9);

        Assert.That(results[0], Is.EqualTo(first));
    }

    [Test]
    public void OfficialSplit_TestIndices_EqualTheIndexArrayOfTheSharedTestNpz()
    {
        var exclusions = Qm9Exclusions.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.Uncharacterized));
        var npzIndices = Npy.ReadNpzMember(TestData.RequireSharedFile(Qm9TestFiles.TestNpz), "index").ToInt32s();

        var assignment = Qm9SplitAssignment.Official;
        Assert.That(assignment.KeptCount, Is.EqualTo(130_831));
        Assert.That(assignment.Sizes, Is.EqualTo(new Qm9SplitSizes(100_000, 17_748, 13_083)));
        Assert.That(assignment.GdbIndices(Qm9Split.Test, exclusions), Is.EqualTo(npzIndices), "130,831-element permutation reproduced bit for bit");

        var train = assignment.GdbIndices(Qm9Split.Train, exclusions);
        var valid = assignment.GdbIndices(Qm9Split.Valid, exclusions);
        Assert.That((train.Length, valid.Length), Is.EqualTo((100_000, 17_748)));
        Assert.That(train.Concat(valid).Concat(npzIndices).Distinct().Count(), Is.EqualTo(130_831), "the splits are disjoint");
    }

    [Test]
    public void SplitSizes_AreCormorantsForTheFullSet_AndScaleForSmallerOnes()
    {
        Assert.That(Qm9SplitSizes.For(130_831), Is.EqualTo(Qm9SplitSizes.Official));
        Assert.That(Qm9SplitSizes.Official.Total, Is.EqualTo(Qm9SplitSizes.OfficialKeptCount));
        Assert.That(Qm9SplitSizes.For(8), Is.EqualTo(new Qm9SplitSizes(6, 2, 0)), "train ⌊8·100000/130831⌋ = 6, test ⌊0.8⌋ = 0");
        Assert.That(Qm9SplitSizes.For(1000), Is.EqualTo(new Qm9SplitSizes(764, 136, 100)));
        Assert.That(Qm9SplitSizes.For(0), Is.EqualTo(new Qm9SplitSizes(0, 0, 0)));
    }

    [Test]
    public void SplitAssignment_FollowsThePermutation()
    {
        var assignment = Qm9SplitAssignment.Create(new Qm9SplitSizes(5, 3, 2));
        int[] permutation = [2, 8, 4, 9, 1, 6, 7, 3, 0, 5];
        Assert.That(assignment.Ordinals(Qm9Split.Train), Is.EqualTo(permutation[..5].Order()));
        Assert.That(assignment.Ordinals(Qm9Split.Valid), Is.EqualTo(permutation[5..8].Order()));
        Assert.That(assignment.Ordinals(Qm9Split.Test), Is.EqualTo(permutation[8..].Order()));
        Assert.That(assignment[2], Is.EqualTo(Qm9Split.Train));
        Assert.That(assignment[0], Is.EqualTo(Qm9Split.Test));
    }

    // ---------------------------------------------------------------- exclusions

    [Test]
    public void Exclusions_SharedOfficialList_Has3054RowsStartingWith58_61_80()
    {
        var exclusions = Qm9Exclusions.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.Uncharacterized));
        Assert.That(exclusions.Count, Is.EqualTo(Qm9Exclusions.OfficialCount).And.EqualTo(3054));
        Assert.That(exclusions.Indices.Take(3), Is.EqualTo(new[] { 58, 61, 80 }));
        Assert.That(exclusions.Indices[^1], Is.EqualTo(133_866));
        Assert.That(exclusions.Contains(21_490) && !exclusions.Contains(6620) && !exclusions.Contains(1), Is.True);
    }

    [Test]
    public void Exclusions_WrongCount_IsAnErrorUnlessTheCountIsWaived()
    {
        string[] lines = File.ReadAllLines(TestData.RequireSharedFile(Qm9TestFiles.Uncharacterized));
        string truncated = string.Join("\n", lines.Take(100));

        var error = Assert.Throws<InvalidDataException>(() => Qm9Exclusions.Read(new StringReader(truncated), "short.txt"));
        Assert.That(error!.Message, Does.StartWith("short.txt: expected exactly 3054 excluded molecules").And.Contain("found 90"));
        Assert.That(Qm9Exclusions.Read(new StringReader(truncated), "short.txt", expectedCount: null).Count, Is.EqualTo(90));
    }

    [Test]
    public void Exclusions_DuplicateOrNonPositiveIndex_NamesTheLine()
    {
        var duplicate = Assert.Throws<InvalidDataException>(() => Qm9Exclusions.Read(new StringReader("header\n 58 x\n 61 y\n58 z\n"), "dup.txt", null));
        Assert.That(duplicate!.Message, Does.StartWith("dup.txt, line 4: GDB index 58 is listed again (first on line 2)"));
        var zero = Assert.Throws<InvalidDataException>(() => Qm9Exclusions.Read(new StringReader("0 x\n"), "zero.txt", null));
        Assert.That(zero!.Message, Does.StartWith("zero.txt, line 1: expected a 1-based GDB index"));
    }

    // ---------------------------------------------------------------- targets, atom references and units

    [Test]
    public void Targets_ParseByTheOriginalNamesIgnoringCase()
    {
        Assert.That(Qm9Targets.All.Select(Qm9Targets.Name), Is.EqualTo(new[] { "alpha", "gap", "homo", "lumo", "mu", "Cv", "G", "H", "r2", "U", "U0", "zpve" }));
        foreach (var target in Qm9Targets.All)
        {
            Assert.That(Qm9Targets.Parse(Qm9Targets.Name(target)), Is.EqualTo(target));
            Assert.That(Qm9Targets.Parse(Qm9Targets.Name(target).ToUpperInvariant()), Is.EqualTo(target));
            Assert.That(Qm9Targets.Parse(" " + Qm9Targets.Name(target).ToLowerInvariant() + " "), Is.EqualTo(target));
        }

        var error = Assert.Throws<ArgumentException>(() => Qm9Targets.Parse("energy"));
        Assert.That(error!.Message, Does.Contain("'energy' is not a QM9 target").And.Contain("alpha, gap, homo, lumo, mu, Cv, G, H, r2, U, U0, zpve"));
        Assert.That(Qm9Targets.TryParse("A", out _), Is.False, "rotational constants are properties, not targets");
    }

    [Test]
    public void Targets_UnitsAndReferences()
    {
        Assert.That(Qm9Targets.All.Where(t => Qm9Targets.UnitFactor(t) == 27.2114), Is.EquivalentTo(new[]
        {
            Qm9Target.Gap, Qm9Target.Homo, Qm9Target.Lumo, Qm9Target.G, Qm9Target.H, Qm9Target.U, Qm9Target.U0,
        }));
        Assert.That(Qm9Targets.UnitFactor(Qm9Target.Zpve), Is.EqualTo(27211.4));
        Assert.That(Qm9Targets.All.Where(t => Qm9Targets.UnitFactor(t) == 1.0), Is.EquivalentTo(new[] { Qm9Target.Alpha, Qm9Target.Mu, Qm9Target.R2, Qm9Target.Cv }));
        Assert.That(Qm9Targets.All.Where(Qm9Targets.HasAtomReference), Is.EquivalentTo(Qm9AtomReferences.Targets));
        Assert.That(Qm9Targets.All.Select(Qm9Targets.Unit).Distinct(), Is.EquivalentTo(new[] { "bohr³", "eV", "D", "cal/(mol·K)", "bohr²", "meV" }));
    }

    [Test]
    public void AtomReferences_ReadFromAtomrefText_EqualTheBuiltInValues()
    {
        const string atomref = """
            Atomic reference data for the B3LYP/6-31G(2df,p) level of theory.
            ===============================================================================
              Ele-    ZPVE         U (0 K)      U (298.15 K)    H (298.15 K)    G (298.15 K)     CV
              ment   Hartree       Hartree        Hartree         Hartree         Hartree        Cal/(Mol Kelvin)
            ===============================================================================
               H     0.000000     -0.500273      -0.498857       -0.497912       -0.510927       2.981
               C     0.000000    -37.846772     -37.845355      -37.844411      -37.861317       2.981
               N     0.000000    -54.583861     -54.582445      -54.581501      -54.598897       2.981
               O     0.000000    -75.064579     -75.063163      -75.062219      -75.079532       2.981
               F     0.000000    -99.718730     -99.717314      -99.716370      -99.733544       2.981
            ===============================================================================
            """;
        var read = Qm9AtomReferences.Read(new StringReader(atomref), "atomref.txt");
        foreach (var target in Qm9Targets.All)
        {
            foreach (int z in Qm9Elements.AtomicNumbers)
            {
                Assert.That(read[target, z], Is.EqualTo(Qm9AtomReferences.Official[target, z]), $"{Qm9Targets.Name(target)}, Z = {z}");
            }
        }

        Assert.That(Qm9AtomReferences.Official[Qm9Target.U0, 6], Is.EqualTo(-37.846772));
        Assert.That(Qm9AtomReferences.Official[Qm9Target.Cv, 9], Is.EqualTo(2.981));
        Assert.That(Qm9AtomReferences.Official[Qm9Target.Homo, 1], Is.Zero);

        var missing = Assert.Throws<InvalidDataException>(() => Qm9AtomReferences.Read(new StringReader(atomref.Replace("   F ", "   Cl")), "atomref.txt"));
        Assert.That(missing!.Message, Does.StartWith("atomref.txt: ").And.Contain("F has none"));
        var shortRow = Assert.Throws<InvalidDataException>(() => Qm9AtomReferences.Read(new StringReader("H 0 -0.5 -0.4\n"), "atomref.txt"));
        Assert.That(shortRow!.Message, Does.StartWith("atomref.txt, line 1: expected element H to be followed by 6 numbers"));
    }

    [Test]
    public void Methane_AtomReferencesSubtractedAndUnitsConverted_ByHand()
    {
        var methane = Qm9XyzReader.Read(new StringReader(Qm9TestFiles.Methane), "methane.xyz").Single();
        var row = Qm9Dataset.ToRow(methane, Qm9Target.U0, Qm9AtomReferences.Official);

        // CH4: one C and four H references; energies Hartree → eV by 27.2114, zpve → meV by 27211.4, Cv stays cal/(mol·K).
        double u0 = (-40.47893 - (-37.846772 + 4 * -0.500273)) * 27.2114; // −0.631066 Ha = −17.1722 eV
        Assert.That(u0, Is.EqualTo(-17.17219).Within(1e-5));
        Assert.That(row.Label, Is.EqualTo((float)u0));
        Assert.That(row.GetTarget(Qm9Target.U0), Is.EqualTo((float)u0));
        Assert.That(row.GetTarget(Qm9Target.U), Is.EqualTo((float)((-40.476062 - (-37.845355 + 4 * -0.498857)) * 27.2114)));
        Assert.That(row.GetTarget(Qm9Target.H), Is.EqualTo((float)((-40.475117 - (-37.844411 + 4 * -0.497912)) * 27.2114)));
        Assert.That(row.GetTarget(Qm9Target.G), Is.EqualTo((float)((-40.498597 - (-37.861317 + 4 * -0.510927)) * 27.2114)));
        Assert.That(row.GetTarget(Qm9Target.Cv), Is.EqualTo((float)(6.469 - 5 * 2.981)), "LieConv corrects Cv too: 6.469 − 14.905");
        Assert.That(row.GetTarget(Qm9Target.Zpve), Is.EqualTo((float)(0.044749 * 27211.4)), "1217.68 meV; its references are zero");
        Assert.That(row.GetTarget(Qm9Target.Homo), Is.EqualTo((float)(-0.3877 * 27.2114)));
        Assert.That(row.GetTarget(Qm9Target.Lumo), Is.EqualTo((float)(0.1171 * 27.2114)));
        Assert.That(row.GetTarget(Qm9Target.Gap), Is.EqualTo((float)(0.5048 * 27.2114)));
        Assert.That(row.GetTarget(Qm9Target.Alpha), Is.EqualTo(13.21f));
        Assert.That(row.GetTarget(Qm9Target.Mu), Is.Zero);
        Assert.That(row.GetTarget(Qm9Target.R2), Is.EqualTo(35.3641f));

        // Cormorant's float32 route (parse to float32, subtract in float32) loses about a meV here; ours rounds once.
        float float32Route = ((float)-40.47893 - (float)(-37.846772 + 4 * -0.500273)) * 27.2114f;
        Assert.That(Math.Abs(float32Route - u0), Is.GreaterThan(Math.Abs(row.Label - u0)));

        Assert.That(row.Index, Is.EqualTo(1));
        Assert.That(row.Charges, Is.EqualTo(new[] { 6f, 1f, 1f, 1f, 1f }));
        Assert.That(row.Points, Has.Length.EqualTo(15));
        Assert.That(row.Points[..3], Is.EqualTo(new[] { -0.0126981359f, 1.0858041578f, 0.0080009958f }));

        var raw = Qm9Dataset.ToRow(methane, Qm9Target.U0, atomReferences: null);
        Assert.That(raw.Label, Is.EqualTo((float)(-40.47893 * 27.2114)), "without subtraction: the total energy in eV");
        Assert.That(row.WithLabel(Qm9Target.Cv).Label, Is.EqualTo(row.GetTarget(Qm9Target.Cv)));
    }

    // ---------------------------------------------------------------- the pipeline on the shared 10 molecules

    [Test]
    public void Dataset_OnTheSharedMolecules_DropsTheUncharacterizedAndSplitsTheRestInSourceOrder()
    {
        var source = Qm9XyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.SampleXyz));
        var exclusions = Qm9Exclusions.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.Uncharacterized));
        var dataset = Qm9Dataset.Create(source, exclusions);

        Assert.That(dataset.Assignment.Sizes, Is.EqualTo(new Qm9SplitSizes(6, 2, 0)));
        int[] kept = [1, 2, 3, 4, 5, 6, 7, 6620]; // 58 and 21490 are uncharacterized
        var bySplit = Enum.GetValues<Qm9Split>().ToDictionary(s => s, s => dataset.Read(s, Qm9Target.Homo).ToList());
        foreach (var (split, rows) in bySplit)
        {
            Assert.That(rows.Select(r => r.Index), Is.EqualTo(dataset.Assignment.Ordinals(split).Select(o => kept[o])), split.ToString());
        }

        var first = bySplit[dataset.Assignment[0]].First();
        var expected = Qm9Dataset.ToRow(Qm9XyzReader.Read(new StringReader(Qm9TestFiles.Methane), "m").Single(), Qm9Target.Homo, Qm9AtomReferences.Official);
        Assert.That(first.Index, Is.EqualTo(1));
        Assert.That(first.Targets, Is.EqualTo(expected.Targets));
        Assert.That(first.Label, Is.EqualTo(expected.GetTarget(Qm9Target.Homo)));
    }

    [Test]
    public void Dataset_WhoseSourceKeepsAnotherCountThanTheAssignment_FailsLoudly()
    {
        var source = Qm9XyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.SampleXyz));
        var exclusions = Qm9Exclusions.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.Uncharacterized));

        var tooFew = new Qm9Dataset(source, exclusions, Qm9SplitAssignment.Official);
        var error = Assert.Throws<InvalidDataException>(() => tooFew.Read(Qm9Split.Test, Qm9Target.U0).ToList());
        Assert.That(error!.Message, Does.Contain("keeps 8 molecules, but the split assignment covers 130831"));

        var tooMany = new Qm9Dataset(source, Qm9Exclusions.None, Qm9SplitAssignment.Create(new Qm9SplitSizes(5, 2, 1)));
        var more = Assert.Throws<InvalidDataException>(() => tooMany.Read(Qm9Split.Train, Qm9Target.U0).ToList());
        Assert.That(more!.Message, Does.Contain("more than the 8 molecules").And.Contain("gdb 21490"));

        Assert.Throws<ArgumentException>(() => Qm9Dataset.Create(source, exclusions, new Qm9SplitSizes(5, 2, 0)));
    }

    // ---------------------------------------------------------------- statistics and recentring

    [Test]
    public void TargetStatistics_AreMeanAndUnbiasedStd()
    {
        var rows = Qm9XyzReader.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.SampleXyz))
            .Select(m => Qm9Dataset.ToRow(m, Qm9Target.U0, Qm9AtomReferences.Official)).ToList();
        var statistics = Qm9TargetStatistics.Compute(rows);

        Assert.That(statistics.Count, Is.EqualTo(10));
        foreach (var target in Qm9Targets.All)
        {
            var values = rows.Select(r => (double)r.GetTarget(target)).ToList();
            double mean = values.Average();
            double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
            Assert.That(statistics.Mean(target), Is.EqualTo(mean).Within(1e-9 * (1 + Math.Abs(mean))), Qm9Targets.Name(target));
            Assert.That(statistics.StandardDeviation(target), Is.EqualTo(std).Within(1e-9 * (1 + std)), Qm9Targets.Name(target));
        }

        Assert.That(statistics.Standardise(Qm9Target.U0, statistics.Mean(Qm9Target.U0) + statistics.StandardDeviation(Qm9Target.U0)), Is.EqualTo(1.0).Within(1e-12));
        Assert.Throws<ArgumentException>(() => Qm9TargetStatistics.Compute(rows.Take(1)));
    }

    [Test]
    public void PositionStatistics_AreTorchsMeanPerAxisAndPooledUnbiasedStd()
    {
        // Coordinates 0,0,0 | 2,0,0 | 0,2,0: axis means (2/3, 2/3, 0); pooled mean 4/9; Σ(v − 4/9)² = 8 − 16/9 = 56/9, /8 → std √7/3.
        var rows = new[]
        {
            new Qm9Molecule { Points = [0, 0, 0, 2, 0, 0], Charges = [1, 1] },
            new Qm9Molecule { Points = [0, 2, 0], Charges = [1] },
        };
        var statistics = Qm9PositionStatistics.Compute(rows);

        Assert.That(statistics.AtomCount, Is.EqualTo(3));
        Assert.That(statistics.Mean, Is.EqualTo(new[] { 2.0 / 3, 2.0 / 3, 0 }).Within(1e-15));
        Assert.That(statistics.StandardDeviation, Is.EqualTo(Math.Sqrt(7) / 3).Within(1e-15));

        var recentred = statistics.Recenter(rows).ToList();
        Assert.That(recentred[1].Points, Is.EqualTo(new[] { (float)(-2.0 / Math.Sqrt(7)), (float)(4.0 / Math.Sqrt(7)), 0f }).Within(1e-6));
        Assert.That(rows[1].Points, Is.EqualTo(new[] { 0f, 2f, 0f }), "the input rows are not modified");
        Assert.That(recentred[0].Charges, Is.SameAs(rows[0].Charges));
    }

    [Test]
    public void Recentring_TheSharedTestSplit_GivesMeanZeroAndStdOne()
    {
        var split = Qm9NpzSplit.ReadFile(TestData.RequireSharedFile(Qm9TestFiles.TestNpz));
        var statistics = Qm9PositionStatistics.Compute(split.Rows(Qm9Target.U0));
        Assert.That(statistics.StandardDeviation, Is.InRange(0.5, 5.0), "Å scale of small molecules");

        var after = Qm9PositionStatistics.Compute(statistics.Recenter(split.Rows(Qm9Target.U0)));

        Assert.That(after.AtomCount, Is.EqualTo(statistics.AtomCount));
        Assert.That(after.Mean, Is.All.EqualTo(0.0).Within(1e-5));
        // Exactly 1 only if the axis means coincide (the std is pooled around the scalar mean, as torch's pos.std()).
        Assert.That(after.StandardDeviation, Is.EqualTo(1.0).Within(1e-2));
    }
}
