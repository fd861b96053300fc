namespace LieConv.Samples.Qm9;

/// <summary>Entry point: see <see cref="Qm9App"/>.</summary>
public static class Program
{
    /// <summary>Runs the sample on the console.</summary>
    public static int Main(string[] args)
    {
        // Large training steps reuse freed memory instead of faulting fresh pages in every step (see the method).
        LieConv.Runtime.TorchRuntime.RetainFreedMemory();
        return Qm9App.Run(args, Console.Out);
    }
}
