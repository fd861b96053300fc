using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet.MlNet;

/// <summary>The version check of every LieConv component in model.zip, with a message that says what to do.</summary>
internal static class ModelVersions
{
    /// <summary>
    /// Checks that the component at <paramref name="ctx"/> is <paramref name="version"/>'s and in a format this build
    /// reads. ML.NET's own check blames "ML.NET 1.0.0.0" and never names our package, so ours runs first.
    /// </summary>
    /// <exception cref="FormatException">The component is another kind, or its format is too new or too old.</exception>
    public static void Check(ModelLoadContext ctx, VersionInfo version, string component)
    {
        var header = ctx.Header;
        string library = $"LieConv.MLNet {typeof(ModelVersions).Assembly.GetName().Version}";
        if (header.ModelSignature == version.ModelSignature)
        {
            if (header.ModelVerReadable > version.VerWrittenCur)
                throw new FormatException(
                    $"model.zip: the {component} was saved by a newer LieConv.NET (format 0x{header.ModelVerWritten:X8}, readable from " +
                    $"0x{header.ModelVerReadable:X8}); {library} reads formats 0x{version.VerWeCanReadBack:X8} to 0x{version.VerWrittenCur:X8}. " +
                    "Load it with the LieConv.MLNet version that saved it, or a later one.");
            if (header.ModelVerWritten < version.VerWeCanReadBack)
                throw new FormatException(
                    $"model.zip: the {component} was saved in the old format 0x{header.ModelVerWritten:X8}; {library} reads formats " +
                    $"0x{version.VerWeCanReadBack:X8} to 0x{version.VerWrittenCur:X8}. Retrain, or load it with an older LieConv.MLNet and save it again.");
        }
        ctx.CheckAtModel(version);
    }
}
