namespace LieConv.Samples.Springs;

/// <summary>The console entry point; everything else is in <see cref="SpringsApp"/> so that tests can run it in-process.</summary>
public static class Program
{
    /// <summary>Runs the sample with the console as output.</summary>
    public static int Main(string[] args)
    {
        // Large training steps reuse freed memory instead of faulting fresh pages in every step (see the method).
        LieConv.Runtime.TorchRuntime.RetainFreedMemory();
        return SpringsApp.Run(args, Console.Out);
    }
}
