using LieConv.Runtime;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Runtime;

[TestFixture]
public class RandomSourceTests
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && (a == b).all().item<bool>();

    [Test]
    public void Counter_DrawsAreAFunctionOfThePositionInsideACloud()
    {
        var source = RandomSource.Counter(123);
        var batch = source.Uniform(new long[] { 3, 40, 2 }, ScalarType.Float32, CPU);
        Assert.That(Same(batch[0], batch[2]), Is.True, "every cloud of a batch gets the same draws");
        Assert.That(Same(batch, source.Uniform(new long[] { 3, 40, 2 }, ScalarType.Float32, CPU)), Is.True, "reproducible");

        // Padding a cloud with more points leaves the draws of the existing points unchanged.
        var padded = source.Uniform(new long[] { 1, 64, 2 }, ScalarType.Float32, CPU);
        Assert.That(Same(padded[0].narrow(0, 0, 40), batch[0]), Is.True);

        Assert.That(Same(RandomSource.Counter(124).Uniform(new long[] { 1, 40, 2 }, ScalarType.Float32, CPU)[0], batch[0]), Is.False);
        Assert.That(batch[0, 0, 0].item<float>(), Is.Not.EqualTo(batch[0, 1, 0].item<float>()));
    }

    [Test]
    public void Counter_UniformAndNormalDrawsHaveTheRightDistribution()
    {
        var source = RandomSource.Counter(7);
        var u = source.Uniform(new long[] { 1, 200, 100 }, ScalarType.Float64, CPU).flatten();
        Assert.That(u.min().item<double>(), Is.GreaterThanOrEqualTo(0));
        Assert.That(u.max().item<double>(), Is.LessThan(1));
        long n = u.numel();
        var ecdf = arange(1, n + 1, dtype: ScalarType.Float64) / n;
        Assert.That((u.sort().Values - ecdf).abs().max().item<double>(), Is.LessThan(1.63 / Math.Sqrt(n)), "Kolmogorov–Smirnov at p = 0.01");
        // Neighbouring positions must not be correlated.
        var grid = u.reshape(200, 100);
        double correlation = ((grid.narrow(1, 0, 99) - 0.5) * (grid.narrow(1, 1, 99) - 0.5)).mean().item<double>() * 12;
        Assert.That(Math.Abs(correlation), Is.LessThan(0.03));

        var z = source.Normal(new long[] { 1, 20000 }, ScalarType.Float64, CPU);
        Assert.That(Math.Abs(z.mean().item<double>()), Is.LessThan(0.03));
        Assert.That(z.std().item<double>(), Is.EqualTo(1).Within(0.03));
    }

    [Test]
    public void FromGenerator_FollowsTheGeneratorSeed()
    {
        var a = RandomSource.FromGenerator(new Generator(5)).Uniform(new long[] { 2, 3 }, ScalarType.Float32, CPU);
        var b = RandomSource.FromGenerator(new Generator(5)).Uniform(new long[] { 2, 3 }, ScalarType.Float32, CPU);
        Assert.That(Same(a, b), Is.True);
        Assert.That(Same(a[0], a[1]), Is.False, "unlike the counter source, clouds get their own draws");
    }

    [Test]
    public void UniformAt_GivesEachColumnItsDrawInTheFullRequest()
    {
        // Counter source: the draw at (row, column) whatever subset of columns is asked for; generator: fresh draws
        // of the right shape in [0, 1).
        var counter = RandomSource.Counter(21);
        var full = counter.Uniform(new long[] { 3, 5, 40 }, ScalarType.Float32, CPU, new long[] { 0, 7, 0 });
        var columns = tensor(new long[] { 39, 0, 12, 12, 5, 1, 2, 3, 38, 20, 21, 22, 30, 31, 32 }).view(1, 5, 3);
        var some = counter.UniformAt(3, columns, 7, ScalarType.Float32);
        Assert.That(some.shape, Is.EqualTo(new long[] { 3, 5, 3 }));
        Assert.That(some.data<float>().ToArray(), Is.EqualTo(full.gather(-1, columns.expand(3, -1, -1)).data<float>().ToArray()));

        var fresh = RandomSource.FromGenerator().UniformAt(3, columns, 7, ScalarType.Float32);
        Assert.That(fresh.shape, Is.EqualTo(new long[] { 3, 5, 3 }));
        Assert.That(fresh.min().item<float>(), Is.GreaterThanOrEqualTo(0f));
        Assert.That(fresh.max().item<float>(), Is.LessThan(1f));
    }

    /// <summary>(rows, c) flags: row r flags the slots where (slot · 7 + r) % 3 != 0, the last row flags only slot 4.</summary>
    private static Tensor SomeFlags(long rows, long c)
    {
        var slot = arange(c, dtype: ScalarType.Int64).view(1, c);
        var row = arange(rows, dtype: ScalarType.Int64).view(rows, 1);
        var flags = (slot * 7 + row).remainder(3) != 0;
        flags[rows - 1] = slot[0] == 4;
        return flags;
    }

    [TestCase(true)]
    [TestCase(false)]
    public void ChooseSubsets_TakesDistinctFlaggedSlots_AllOfThemWhenFewerThanK(bool onDevice)
    {
        // The generator source draws on the host; acting as an accelerator it ranks the slots, as a counter source does.
        const long batch = 5, rows = 6, c = 12, k = 4;
        var shared = SomeFlags(rows, c).unsqueeze(0);                                            // (1, rows, c)
        var perCloud = stack(Enumerable.Range(0, (int)batch).Select(b => shared[0].roll(b, 1)).ToArray());   // (B, rows, c)
        var columns = arange(c, dtype: ScalarType.Int64).expand(1, rows, c);
        foreach (var flags in new[] { shared, perCloud })
        foreach (var source in new[] { RandomSource.FromGenerator(new Generator(3)), RandomSource.Counter(3) })
        {
            Tensor slots, flagged;
            using (onDevice ? HostReads.ActAsAccelerator() : null)
                (slots, flagged) = source.ChooseSubsets(batch, columns, flags, 0, k, ScalarType.Float32);
            Assert.That(slots.shape, Is.EqualTo(new[] { batch, rows, k }));
            Assert.That(flagged.shape, Is.EqualTo(new[] { batch, rows, k }));
            for (long b = 0; b < batch; b++)
            for (long r = 0; r < rows; r++)
            {
                var rowFlags = flags[flags.shape[0] == 1 ? 0 : b, r].data<bool>().ToArray();
                var chosen = slots[b, r].data<long>().ToArray();
                var marks = flagged[b, r].data<bool>().ToArray();
                Assert.That(chosen.Distinct().Count(), Is.EqualTo(k), "distinct slots");
                Assert.That(chosen.Select(j => rowFlags[j]), Is.EqualTo(marks), "marked flagged exactly when flagged");
                Assert.That(marks.Count(m => m), Is.EqualTo(Math.Min(k, rowFlags.Count(f => f))), "min(k, flagged) flagged slots");
            }
        }
    }

    [Test]
    public void ChooseSubsets_FromTheGenerator_IsUniformOverSubsetsAndFollowsTheSeed()
    {
        // 3 of 10 flagged slots (among 16) in each of 20,000 clouds: each flagged slot is taken with probability 3/10 and
        // each pair with 3·2/(10·9); a draw that favoured the first slots, or left them in place, fails.
        const long batch = 20000, c = 16, k = 3;
        var flags = (arange(c) % 8 < 5).view(1, 1, c);                                          // slots 0–4 and 8–12
        var columns = arange(c, dtype: ScalarType.Int64).view(1, 1, c);
        var (slots, flagged) = RandomSource.FromGenerator(new Generator(11)).ChooseSubsets(batch, columns, flags, 0, k, ScalarType.Float32);
        Assert.That(flagged.all().item<bool>(), Is.True);
        var taken = zeros(batch, c).scatter_(1, slots.view(batch, k), ones(batch, k));                 // (B, c) 0/1
        var frequency = taken.mean(new long[] { 0 }).data<float>().ToArray();
        for (int j = 0; j < c; j++)
            Assert.That(frequency[j], flags[0, 0, j].item<bool>() ? Is.EqualTo(0.3).Within(0.015) : Is.EqualTo(0), $"slot {j}");   // σ = 0.0032
        foreach (var (a, b) in new[] { (0, 1), (0, 12), (4, 8), (9, 11) })
            Assert.That((taken[.., a] * taken[.., b]).mean().item<float>(), Is.EqualTo(1.0 / 15).Within(0.01), $"slots {a} and {b}");   // σ = 0.0018
        Assert.That(Same(slots[0], slots[1]) && Same(slots[1], slots[2]), Is.False, "clouds draw their own subsets");

        var again = RandomSource.FromGenerator(new Generator(11)).ChooseSubsets(batch, columns, flags, 0, k, ScalarType.Float32).Slots;
        var other = RandomSource.FromGenerator(new Generator(12)).ChooseSubsets(batch, columns, flags, 0, k, ScalarType.Float32).Slots;
        Assert.That(Same(slots, again), Is.True, "the same seed draws the same subsets");
        Assert.That(Same(slots, other), Is.False);
    }

    [Test]
    public void ChooseSubsets_RejectsFlagsOfAnotherBatchOrNarrowerThanK()
    {
        var source = RandomSource.FromGenerator(new Generator(1));
        var columns = arange(4, dtype: ScalarType.Int64).expand(1, 2, 4);
        Assert.Throws<ArgumentException>(() => source.ChooseSubsets(3, columns, ones(2, 2, 4, dtype: ScalarType.Bool), 0, 2, ScalarType.Float32));
        Assert.Throws<ArgumentException>(() => source.ChooseSubsets(3, columns, ones(1, 2, 4, dtype: ScalarType.Bool), 0, 5, ScalarType.Float32));
    }
}
