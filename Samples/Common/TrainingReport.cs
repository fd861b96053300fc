using System.Diagnostics;
using LieConv.Training;
using ScottPlot;
using Spectre.Console;

namespace LieConv.Samples;

/// <summary>
/// Shows training in the console (a Spectre progress bar with live loss, metrics and ETA) and keeps the per-epoch
/// history for the plots.
/// </summary>
public sealed class TrainingReport(IAnsiConsole console)
{
    private readonly List<TrainingProgress> _epochs = [];

    /// <summary>The epoch-end reports so far.</summary>
    public IReadOnlyList<TrainingProgress> Epochs => _epochs;

    /// <summary>
    /// Runs <paramref name="train"/>, which must pass the callback it is given to the trainer's <c>Progress</c> option,
    /// under a progress bar of the optimiser steps that <paramref name="epochs"/> over <paramref name="examples"/> in
    /// batches of <paramref name="batchSize"/> take; returns the trained result and the seconds it took.
    /// </summary>
    public (T Result, double Seconds) Run<T>(string title, long examples, int batchSize, int epochs, Func<Action<TrainingProgress>, T> train)
    {
        long totalSteps = epochs * ((examples + batchSize - 1) / batchSize);
        var clock = Stopwatch.StartNew();
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape(title), maxValue: Math.Max(1, totalSteps));
                result = train(progress =>
                {
                    task.Value = Math.Min(task.MaxValue, progress.GlobalStep);
                    string metrics = progress.ValidationMetrics is { Count: > 0 } m
                        ? " " + string.Join(" ", m.Select(kv => $"{kv.Key} {kv.Value:G4}"))
                        : "";
                    task.Description = Markup.Escape($"{title}: epoch {progress.Epoch + 1}/{progress.Epochs} loss {progress.Loss:G4}{metrics}" +
                        (progress.EstimatedRemaining is { } eta ? $" ETA {eta:hh\\:mm\\:ss}" : ""));
                    if (progress.Kind == ProgressKind.EpochEnd)
                    {
                        _epochs.Add(progress);
                        console.MarkupLine(Markup.Escape($"epoch {progress.Epoch + 1}: training loss {progress.Loss:G5}, learning rate {progress.LearningRate:G3}{metrics}"));
                    }
                });
                task.Value = task.MaxValue;
            });
        return (result, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Writes a PNG of the training loss per epoch (and each validation metric on its own axis) to <paramref name="path"/>.</summary>
    public void PlotCurves(string path, string title)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel("training loss");
        double[] epochs = _epochs.Select(e => (double)e.Epoch + 1).ToArray();
        var loss = plot.Add.Scatter(epochs, _epochs.Select(e => e.Loss).ToArray());
        loss.LegendText = "training loss";
        var metricNames = _epochs.SelectMany(e => e.ValidationMetrics?.Keys ?? []).Distinct().ToList();
        foreach (string name in metricNames)
        {
            var series = plot.Add.Scatter(epochs, _epochs.Select(e => e.ValidationMetrics?.GetValueOrDefault(name, double.NaN) ?? double.NaN).ToArray());
            series.LegendText = $"validation {name}";
            series.Axes.YAxis = plot.Axes.Right;
        }
        if (metricNames.Count > 0)
            plot.Axes.Right.Label.Text = "validation metric";
        plot.ShowLegend();
        plot.SavePng(path, 800, 500);
    }
}
