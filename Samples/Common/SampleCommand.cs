using System.CommandLine;

namespace LieConv.Samples;

/// <summary>Runs a sample's command line the same way in every sample.</summary>
public static class SampleCommand
{
    /// <summary>
    /// Parses <paramref name="args"/> against <paramref name="root"/> and runs <paramref name="run"/> with the result.
    /// Parse errors and <c>--help</c> come out as System.CommandLine prints them. A mistake in what the user gave — a
    /// malformed number, group spec or dict, an option out of range, a malformed data file — is one line
    /// <c>error: …</c> and exit code 1: its message names what was expected, and a stack trace would only bury it.
    /// Anything else still fails with its stack trace.
    /// </summary>
    /// <param name="root">The sample's command, with its options added.</param>
    /// <param name="args">The command-line arguments.</param>
    /// <param name="output">Where everything is written.</param>
    /// <param name="run">The sample itself; returns the exit code.</param>
    /// <returns>The exit code.</returns>
    public static int Invoke(RootCommand root, string[] args, TextWriter output, Func<ParseResult, int> run)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(run);
        root.SetAction(run);
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = output, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidDataException)
        {
            output.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
