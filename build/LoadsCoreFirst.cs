using System.Runtime.CompilerServices;

namespace LieConv;

/// <summary>
/// Runs LieConv.Core's module initializer when this assembly loads, before its code can call libtorch: Core answers
/// MKL's vendor test there, which must come before libtorch loads (LieConv.Core/Runtime/MklOwnKernels.cs). Compiled
/// into every project but Core that can call TorchSharp (Directory.Build.targets), samples included.
/// </summary>
internal static class LoadsCoreFirst
{
    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "See the class summary.")]
    internal static void RunCoreInitializer() =>
        RuntimeHelpers.RunModuleConstructor(typeof(LieConv.Runtime.TorchRuntime).Module.ModuleHandle);
}
