namespace LieConv.Tests.Groups;

/// <summary>Plain float64 linear algebra for reference values, with no TorchSharp involved.</summary>
internal static class ReferenceMath
{
    /// <summary>Matrix exponential by scaling and squaring of a Taylor series.</summary>
    public static double[,] Expm(double[,] a)
    {
        int n = a.GetLength(0);
        double norm = 0;
        foreach (var v in a) norm = Math.Max(norm, Math.Abs(v));
        int squarings = Math.Max(0, (int)Math.Ceiling(Math.Log2(norm * n / 0.25)));
        var scaled = Scale(a, Math.Pow(2, -squarings));
        var result = Identity(n);
        var term = Identity(n);
        for (int k = 1; k <= 20; k++)
        {
            term = Scale(Multiply(term, scaled), 1.0 / k);
            result = Add(result, term);
        }
        for (int s = 0; s < squarings; s++) result = Multiply(result, result);
        return result;
    }

    public static double[,] Combination(double[] coefficients, double[][,] basis)
    {
        int n = basis[0].GetLength(0);
        var m = new double[n, n];
        for (int k = 0; k < coefficients.Length; k++) m = Add(m, Scale(basis[k], coefficients[k]));
        return m;
    }

    public static double[,] Identity(int n)
    {
        var m = new double[n, n];
        for (int i = 0; i < n; i++) m[i, i] = 1;
        return m;
    }

    public static double[,] Multiply(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), k = a.GetLength(1), m = b.GetLength(1);
        var r = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int t = 0; t < k; t++) s += a[i, t] * b[t, j];
                r[i, j] = s;
            }
        return r;
    }

    public static double[,] Add(double[,] a, double[,] b)
    {
        var r = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) r[i, j] += b[i, j];
        return r;
    }

    public static double[,] Scale(double[,] a, double s)
    {
        var r = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) r[i, j] *= s;
        return r;
    }

    public static double MaxAbs(double[,] a)
    {
        double m = 0;
        foreach (var v in a) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
