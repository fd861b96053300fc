using LieConv.Groups;
using LieConv.Runtime;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.Groups;

/// <summary>
/// SE(2)'s CPU pass over ball candidates must decide every candidate exactly as the distance formula's tensor
/// operations do: a search is tested against exact balls, and a flag that differed at the radius would change a ball.
/// </summary>
[TestFixture]
public class SE2CandidatePassTests
{
    /// <summary>
    /// (B, 2n, 3) distance coordinates of n points lifted twice: random positions and rotations, the same point twice (θ and gap
    /// exactly 0), rotations half a turn apart and either side of the wrap at ±π.
    /// </summary>
    private static Tensor Coordinates(SE2 group, long clouds, long n, long seed)
    {
        manual_seed(seed);
        var x = randn(clouds, n, 2) * 3;
        var lifted = group.Lift(x, 2, RandomSource.FromGenerator(TorchRuntime.CreateGenerator(seed, "lift")));
        var coordinates = group.DistanceCoordinates(lifted.Elements).contiguous();
        coordinates[0, 1] = coordinates[0, 0];
        coordinates[0, 2, 0] = tensor((float)Math.PI - 1e-6f);
        coordinates[0, 3, 0] = tensor(-(float)Math.PI + 1e-6f);
        coordinates[0, 4, 0] = tensor(-(float)Math.PI);
        return coordinates;
    }

    /// <summary>The tensor formula's flags: gather, <see cref="LieGroup.CoordinatePairDistance"/>, compare, then the real slots only.</summary>
    private static Tensor FormulaFlags(SE2 group, Tensor queries, Tensor points, Tensor candidates, Tensor counts, Tensor radius)
    {
        long batch = queries.shape[0], c = candidates.shape[2];
        var index = candidates.expand(batch, -1, -1);
        var gathered = points.unsqueeze(1).expand(batch, index.shape[1], points.shape[1], 3)
            .gather(2, index.unsqueeze(-1).expand(batch, index.shape[1], c, 3));
        var none = empty(new[] { batch, index.shape[1], 1, 0 });
        var distance = group.CoordinatePairDistance(queries.unsqueeze(2), none, gathered, empty(new[] { batch, index.shape[1], c, 0 }));
        var used = arange(c).view(1, 1, c) < counts.unsqueeze(-1);
        return (distance < radius).logical_and(used);
    }

    [TestCase(0.05, 1)]
    [TestCase(0.05, 0)]   // one candidate list for every cloud
    [TestCase(0.6, 1)]
    public void Flags_AreTheFormulas_AtEveryRadius_IncludingDistancesExactlyAtIt(double alpha, int perCloud)
    {
        var group = new SE2(alpha);
        const long clouds = 3, rows = 40, c = 60;
        var points = Coordinates(group, clouds, 150, seed: 17);
        long n = points.shape[1];
        var queries = points.narrow(1, 0, rows).contiguous();
        long groups = perCloud == 1 ? clouds : 1;
        var candidates = randint(0, n, new[] { groups, rows, c });
        candidates[TensorIndex.Ellipsis, 0] = arange(rows).view(1, rows);          // every query is its own first candidate
        candidates[0, 0, 1] = tensor(1L);                                           // the same point again, elsewhere
        var counts = randint(c / 2, c + 1, new[] { groups, rows });
        var radii = new List<float> { 0.5f, 2f, 6f };
        // Radii equal to distances the formula computes: those candidates sit exactly on the sphere (d < r false).
        var all = FormulaFlags(group, queries, points, candidates, counts, tensor(float.MaxValue));
        var exact = group.CoordinatePairDistance(queries.unsqueeze(2), empty(new[] { clouds, rows, 1, 0 }),
            points.unsqueeze(1).expand(clouds, rows, n, 3).gather(2, candidates.expand(clouds, -1, -1).unsqueeze(-1).expand(clouds, rows, c, 3)),
            empty(new[] { clouds, rows, c, 0 }));
        radii.AddRange(exact.flatten().masked_select(all.flatten()).narrow(0, 0, 40).data<float>().ToArray());
        radii.AddRange(radii.Take(40).Select(r => MathF.BitIncrement(r)).ToList());

        long decidedInside = 0;
        foreach (float r in radii)
        {
            var radius = tensor(r);
            var pass = group.CandidatesWithinRadius(queries, points, candidates, counts, radius);
            Assert.That(pass, Is.Not.Null, "float32 CPU tensors take the pass");
            var formula = FormulaFlags(group, queries, points, candidates, counts, radius);
            Assert.That(pass!.shape, Is.EqualTo(formula.shape));
            var mismatches = (pass != formula).sum().item<long>();
            Assert.That(mismatches, Is.Zero, $"radius {r:R}: flags that differ from the formula's");
            decidedInside += pass.sum().item<long>();
        }
        Assert.That(decidedInside, Is.GreaterThan(1000), "balls with candidates inside");
    }

    [TestCase(0.05)]
    [TestCase(0.2)]
    [TestCase(0.6)]
    public void EveryPairsDistance_IsTheFormulasToTheBit(double alpha)
    {
        var group = new SE2(alpha);
        var points = Coordinates(group, 1, 150, seed: 29)[0];                       // (300, 3)
        long n = points.shape[0];
        var none = empty(new[] { n, n, 0 });
        var formula = group.CoordinatePairDistance(points.unsqueeze(1), none, points.unsqueeze(0), none).data<float>().ToArray();
        // Every point a candidate of every query, the last rows with fewer real candidates.
        var candidates = arange(n).expand(1, n, n).contiguous();
        var counts = full(new[] { 1L, n }, n);
        counts[0, TensorIndex.Slice(n - 10)] = tensor(7L);
        var mine = group.CandidateDistances(points.unsqueeze(0), points.unsqueeze(0), candidates, counts)!.data<float>().ToArray();
        long differing = 0, beyond = 0;
        for (long i = 0; i < n; i++)
            for (long j = 0; j < n; j++)
            {
                long at = i * n + j;
                if (i >= n - 10 && j >= 7) { if (!float.IsPositiveInfinity(mine[at])) beyond++; continue; }
                if (BitConverter.SingleToInt32Bits(mine[at]) != BitConverter.SingleToInt32Bits(formula[at])) differing++;
            }
        Assert.That(beyond, Is.Zero, "slots past a row's count are +∞");
        Assert.That(differing, Is.Zero, $"of {n * n} pairs, distances not bit-equal to the formula's");
    }

    [Test]
    public void OtherTensors_AreLeftToTheFormula()
    {
        var group = new SE2(0.2);
        var points = Coordinates(group, 2, 25, seed: 3);
        var queries = points.narrow(1, 0, 5).contiguous();
        var candidates = randint(0, 50, new[] { 2L, 5, 8 });
        var counts = full(new[] { 2L, 5 }, 8L);
        var radius = tensor(1.5f);
        Assert.That(group.CandidatesWithinRadius(queries.to(ScalarType.Float64), points.to(ScalarType.Float64), candidates, counts, radius.to(ScalarType.Float64)),
            Is.Null, "float64");
        using (HostReads.ActAsAccelerator())
            Assert.That(group.CandidatesWithinRadius(queries, points, candidates, counts, radius), Is.Null, "a device's tensors");
        Assert.That(new Translations(2).CandidatesWithinRadius(queries, points, candidates, counts, radius), Is.Null, "groups without a pass");
    }
}
