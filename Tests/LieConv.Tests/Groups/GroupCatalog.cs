using LieConv.Groups;

namespace LieConv.Tests.Groups;

/// <summary>Every built-in group with its Lie-algebra basis written out by hand, independently of the library.</summary>
public static class GroupCatalog
{
    public sealed record Case(string Spec, Func<LieGroup> Create, double[][,] Basis, int[] RotationAxes)
    {
        public override string ToString() => Spec;
    }

    private static double[,] M(int n, params (int i, int j, double v)[] entries)
    {
        var m = new double[n, n];
        foreach (var (i, j, v) in entries) m[i, j] = v;
        return m;
    }

    private static readonly double[][,] So3Basis =
    {
        M(3, (1, 2, -1), (2, 1, 1)),
        M(3, (0, 2, 1), (2, 0, -1)),
        M(3, (0, 1, -1), (1, 0, 1)),
    };

    public static IEnumerable<Case> All => new[]
    {
        new Case("T(2)", () => new Translations(2), new[] { M(3, (0, 2, 1)), M(3, (1, 2, 1)) }, Array.Empty<int>()),
        new Case("T(3)", () => new Translations(3), new[] { M(4, (0, 3, 1)), M(4, (1, 3, 1)), M(4, (2, 3, 1)) }, Array.Empty<int>()),
        new Case("Tx(2)", () => Subgroup.Tx(), new[] { M(3, (0, 2, 1)) }, Array.Empty<int>()),
        new Case("Ty(2)", () => Subgroup.Ty(), new[] { M(3, (1, 2, 1)) }, Array.Empty<int>()),
        new Case("Rx(0.1)", () => Subgroup.Rx(0.1), new[] { M(2, (0, 0, 1), (1, 1, 1)) }, Array.Empty<int>()),
        new Case("SO2(0.2)", () => new SO2(), new[] { M(2, (0, 1, -1), (1, 0, 1)) }, new[] { 0 }),
        new Case("RxSO2(0.3)", () => new RxSO2(0.3), new[] { M(2, (0, 0, 1), (1, 1, 1)), M(2, (0, 1, -1), (1, 0, 1)) }, new[] { 1 }),
        new Case("SE2(0.05)", () => new SE2(0.05), new[] { M(3, (0, 1, -1), (1, 0, 1)), M(3, (0, 2, 1)), M(3, (1, 2, 1)) }, new[] { 0 }),
        new Case("SO3(0.2)", () => new SO3(), So3Basis, new[] { 0, 1, 2 }),
        new Case("SE3(0.2)", () => new SE3(), So3Basis.Select(b => Embed(b, 4)).Concat(new[] { M(4, (0, 3, 1)), M(4, (1, 3, 1)), M(4, (2, 3, 1)) }).ToArray(), new[] { 0, 1, 2 }),
    };

    /// <summary>Every group including the trivial ones, for lift and pair tests.</summary>
    public static IEnumerable<Func<LieGroup>> AllGroups => All.Select(c => c.Create)
        .Concat(new Func<LieGroup>[] { () => new Trivial(2), () => new Trivial(3) });

    private static double[,] Embed(double[,] m, int n)
    {
        var r = new double[n, n];
        for (int i = 0; i < m.GetLength(0); i++)
            for (int j = 0; j < m.GetLength(1); j++)
                r[i, j] = m[i, j];
        return r;
    }
}
