namespace LieConv.Training;

/// <summary>What a <see cref="TrainingProgress"/> report marks.</summary>
public enum ProgressKind
{
    /// <summary>A periodic report after an optimiser step.</summary>
    Step,

    /// <summary>The end of an epoch, after validation and the checkpoint.</summary>
    EpochEnd,
}
