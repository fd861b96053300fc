using ScottPlot;

namespace LieConv.Samples.Springs;

/// <summary>The sample's trajectory figure, like the original paper's: each particle's path, true vs predicted.</summary>
public static class SpringsPlots
{
    /// <summary>
    /// Writes a PNG of the first <paramref name="horizon"/> positions of every particle: the true path solid, the
    /// predicted path dashed in the same colour, and the start marked.
    /// </summary>
    /// <param name="path">The PNG file.</param>
    /// <param name="title">The plot title.</param>
    /// <param name="truth">The true trajectory, (T, 2nd) row-major.</param>
    /// <param name="prediction">The predicted trajectory, (T, 2nd) row-major.</param>
    /// <param name="particles">n.</param>
    /// <param name="dimension">d (the first two coordinates are drawn).</param>
    /// <param name="horizon">States to draw.</param>
    public static void TrueVsPredicted(string path, string title, float[] truth, float[] prediction, int particles, int dimension, int horizon)
    {
        int size = 2 * particles * dimension;
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("x");
        plot.YLabel("y");
        for (int i = 0; i < particles; i++)
        {
            var colour = Colors.Category10[i % Colors.Category10.Length];
            double[] Coordinate(float[] states, int axis) =>
                Enumerable.Range(0, horizon).Select(step => (double)states[step * size + i * dimension + axis]).ToArray();
            var solid = plot.Add.ScatterLine(Coordinate(truth, 0), Coordinate(truth, 1));
            solid.Color = colour;
            solid.LineWidth = 2;
            solid.LegendText = $"particle {i + 1}";
            var dashed = plot.Add.ScatterLine(Coordinate(prediction, 0), Coordinate(prediction, 1));
            dashed.Color = colour;
            dashed.LineWidth = 2;
            dashed.LinePattern = LinePattern.Dashed;
            var start = plot.Add.Marker(truth[i * dimension], truth[i * dimension + 1]);
            start.Color = colour;
        }
        plot.ShowLegend();
        plot.SavePng(path, 800, 700);
    }
}
