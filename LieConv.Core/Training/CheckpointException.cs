namespace LieConv.Training;

/// <summary>A checkpoint file that cannot be used: truncated, altered, of another format, or not matching the model.</summary>
public sealed class CheckpointException : IOException
{
    /// <summary>An error about the checkpoint at <paramref name="path"/>; the message names the file.</summary>
    public CheckpointException(string path, string problem, Exception? inner = null)
        : base($"Checkpoint '{path}' {problem}", inner)
    {
        Path = path;
    }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }
}
