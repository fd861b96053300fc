// LieConv.MLNet compiles against publicized copies of these assemblies (build/Publicize.targets) because
// ML.NET's save/load and row-mapper extension points are internal. This attribute, honoured by the .NET
// runtime though never declared by the BCL, makes the runtime accept that access against the real,
// unmodified assemblies; without it Model.Load fails in RegisterAssembly. See
// /work/shared/docs/mlnet-conventions.md §1-2. Add one line per further ML.NET assembly whose internals we use.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices
{
    /// <summary>
    /// Tells the runtime to skip visibility checks from this assembly into the named assembly. Recognised by
    /// the runtime by name only, so each assembly that needs it declares its own internal copy.
    /// </summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    internal sealed class IgnoresAccessChecksToAttribute : Attribute
    {
        /// <summary>Creates the attribute for one assembly.</summary>
        /// <param name="assemblyName">The simple name of the assembly whose internals are used.</param>
        public IgnoresAccessChecksToAttribute(string assemblyName)
        {
            AssemblyName = assemblyName;
        }

        /// <summary>The simple name of the assembly whose internals are used.</summary>
        public string AssemblyName { get; }
    }
}
