using LieConv.Groups;
using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Nn;

[TestFixture]
public class FarthestPointSamplerTests : SingleThreadedFixture
{
    [TestCase(0.5, 5, 2)]      // 2.5 → 2
    [TestCase(0.5, 7, 4)]      // 3.5 → 4
    [TestCase(0.5, 11, 6)]     // 5.5 → 6
    [TestCase(0.25, 10, 2)]    // 2.5 → 2
    [TestCase(0.75, 10, 8)]    // 7.5 → 8
    [TestCase(0.3, 10, 3)]
    [TestCase(1.0, 9, 9)]
    public void KeptCount_RoundsHalfToEven(double fraction, long n, long expected) =>
        Assert.That(FarthestPointSampler.KeptCount(fraction, n), Is.EqualTo(expected));

    private static LiftedCloud Cloud(double[] x, double[] y, bool[]? mask = null)
    {
        int n = x.Length;
        var points = stack(new[] { tensor(x), tensor(y) }, -1).unsqueeze(0).to(ScalarType.Float32);
        return LiftedCloud.Lift(new Translations(2), points, zeros(1, n, 1), tensor(mask ?? Enumerable.Repeat(true, n).ToArray()).unsqueeze(0), 1, null);
    }

    [Test]
    public void SecondPick_IsTheFarEndOfALine()
    {
        // Points on a line: from any start the farthest point is one of the two ends, whichever is farther.
        double[] x = { 0, 1, 2, 3, 4, 10 };
        var cloud = Cloud(x, new double[6]);
        for (long seed = 0; seed < 12; seed++)
        {
            var picks = Indices(FarthestPointSampler.Sample(new Translations(2), cloud, 3, RandomSource.Counter(seed)));
            double start = x[picks[0]];
            long far = start < 5 ? 5 : 0;
            Assert.That(picks[1], Is.EqualTo(far), $"start {picks[0]}");
            // The third pick maximises the distance to the nearer of the first two.
            var third = Enumerable.Range(0, 6).Where(i => i != picks[0] && i != picks[1])
                .OrderByDescending(i => Math.Min(Math.Abs(x[i] - start), Math.Abs(x[i] - x[far]))).ThenBy(i => i).First();
            Assert.That(picks[2], Is.EqualTo(third), $"start {picks[0]}");
        }
    }

    [Test]
    public void Sequence_IsTheGreedyFarthestPointOrder()
    {
        manual_seed(8);
        var clouds = RandomClouds(3, 25, 2, 1);
        var cloud = Lift(new Translations(2), clouds);
        var picks = Indices(FarthestPointSampler.Sample(new Translations(2), cloud, 10, RandomSource.Counter(3)));
        var x = Values(clouds.Coordinates);
        for (int b = 0; b < 3; b++)
        {
            double Distance(long i, long j) => Math.Sqrt(Math.Pow(x[(b * 25 + i) * 2] - x[(b * 25 + j) * 2], 2) + Math.Pow(x[(b * 25 + i) * 2 + 1] - x[(b * 25 + j) * 2 + 1], 2));
            var chosen = new List<long> { picks[b * 10] };
            while (chosen.Count < 10)
                chosen.Add(Enumerable.Range(0, 25).Where(i => !chosen.Contains(i))
                    .OrderByDescending(i => chosen.Min(c => Distance(i, c))).First());
            Assert.That(picks.Skip(b * 10).Take(10).ToArray(), Is.EqualTo(chosen.ToArray()), $"cloud {b}");
        }
    }

    [TestCase("SO2(.2)")]
    [TestCase("SE2(.2)")]
    [TestCase("Trivial(2)")]
    public void Sequence_IsTheGreedyFarthestPointOrder_ByTheGroupDistance(string spec)
    {
        // The tensor loop (SO2, SE2) and the host loop (Trivial: Euclidean coordinates) against the definition, with
        // distances from the group itself.
        var group = LieGroup.Parse(spec);
        manual_seed(9);
        var clouds = RandomClouds(2, 20, 2, 1);
        var cloud = LiftedCloud.Lift(group, clouds.Coordinates, clouds.Values, clouds.Mask, 1, RandomSource.Counter(5));
        var picks = Indices(FarthestPointSampler.Sample(group, cloud, 8, RandomSource.Counter(3)));
        var distance = Values(group.PairDistance(cloud.Elements.unsqueeze(2), cloud.Orbits.unsqueeze(2), cloud.Elements.unsqueeze(1), cloud.Orbits.unsqueeze(1)));
        for (int b = 0; b < 2; b++)
        {
            var chosen = new List<long> { picks[b * 8] };
            while (chosen.Count < 8)
                chosen.Add(Enumerable.Range(0, 20).Where(i => !chosen.Contains(i))
                    .OrderByDescending(i => chosen.Min(c => distance[(b * 20 + i) * 20 + c])).First());
            Assert.That(picks.Skip(b * 8).Take(8).ToArray(), Is.EqualTo(chosen.ToArray()), $"cloud {b}");
        }
    }

    [Test]
    public void ValidPointsAreNeverRepeated_AndExcessPicksPointAtPadding()
    {
        manual_seed(9);
        var clouds = RandomClouds(3, 12, 2, 1);
        var mask = clouds.Mask.clone();
        mask[0, TensorIndex.Slice(5, null)] = tensor(false);            // 5 valid points
        mask[1, TensorIndex.Slice(null, 3)] = tensor(false);            // 9 valid, padding first
        mask[2, tensor(new long[] { 1, 4, 7, 10 })] = tensor(false);    // 8 valid, interleaved padding
        var cloud = LiftedCloud.Lift(new Translations(2), clouds.Coordinates, clouds.Values, mask, 1, RandomSource.Counter(0));
        var m = mask.data<bool>().ToArray();
        int[] valid = { 5, 9, 8 };
        foreach (long count in new long[] { 4, 8, 10 })
            for (long seed = 0; seed < 4; seed++)
            {
                var picks = Indices(FarthestPointSampler.Sample(new Translations(2), cloud, count, RandomSource.Counter(seed)));
                for (int b = 0; b < 3; b++)
                {
                    var row = picks.Skip(b * (int)count).Take((int)count).ToArray();
                    var isValid = row.Select(i => m[b * 12 + i]).ToArray();
                    long expectedValid = Math.Min(count, valid[b]);
                    Assert.That(isValid.Take((int)expectedValid), Is.All.True, $"cloud {b}, {count} picks: valid points come first");
                    Assert.That(isValid.Skip((int)expectedValid), Is.All.False, $"cloud {b}, {count} picks: the excess points at padding");
                    Assert.That(row.Distinct().Count(), Is.EqualTo(row.Length), $"cloud {b}, {count} picks: no index twice");
                }
            }
    }

    [Test]
    public void Picks_AreReproducibleForACounterSeed_AndTheStartDependsOnIt()
    {
        manual_seed(10);
        var cloud = Lift(new Translations(2), RandomClouds(2, 30, 2, 1));
        var first = FarthestPointSampler.Sample(new Translations(2), cloud, 7, RandomSource.Counter(42));
        Assert.That(Identical(first, FarthestPointSampler.Sample(new Translations(2), cloud, 7, RandomSource.Counter(42))), Is.True);
        var starts = Enumerable.Range(0, 8)
            .Select(s => Indices(FarthestPointSampler.Sample(new Translations(2), cloud, 1, RandomSource.Counter(s)))[0]).Distinct().Count();
        Assert.That(starts, Is.GreaterThan(1), "the start is drawn from the random source");
    }

    [Test]
    public void Sampling_OnTranslations_IsTranslationInvariant()
    {
        // T(d) distances are differences, so the same start gives the same picks for a translated cloud.
        manual_seed(11);
        var clouds = RandomClouds(2, 40, 3, 1);
        var moved = clouds with { Coordinates = clouds.Coordinates + tensor(new[] { 2.5f, -1.25f, 0.75f }) };
        var group = new Translations(3);
        var a = FarthestPointSampler.Sample(group, Lift(group, clouds), 15, RandomSource.Counter(1));
        var b = FarthestPointSampler.Sample(group, Lift(group, moved), 15, RandomSource.Counter(1));
        Assert.That(Identical(a, b), Is.True);
    }
}
