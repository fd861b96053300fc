namespace LieConv.Datasets.Io;

/// <summary>One labelled image read from an <c>.amat</c> file.</summary>
/// <param name="Pixels">The intensities in [0, 1], in file order (row-major for RotMNIST).</param>
/// <param name="Label">The class, 0 to the class count − 1.</param>
/// <param name="LineNumber">The 1-based line of the file the row came from.</param>
public readonly record struct AmatRow(float[] Pixels, int Label, long LineNumber);
