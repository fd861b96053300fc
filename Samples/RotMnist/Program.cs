namespace LieConv.Samples.RotMnist;

/// <summary>Entry point: see <see cref="RotMnistApp"/>.</summary>
public static class Program
{
    /// <summary>Runs the sample on the console.</summary>
    public static int Main(string[] args) => RotMnistApp.Run(args, Console.Out);
}
