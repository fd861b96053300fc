using Mono.Cecil;

namespace LieConv.Tools.MlPublicizer;

/// <summary>
/// <c>MlPublicizer &lt;input.dll&gt; &lt;output.dll&gt;</c>: writes a compile-only copy of an assembly whose
/// internal types and members are public, so that LieConv.MLNet can compile against ML.NET's internal
/// extension points. The real assembly is what runs; <c>IgnoresAccessChecksTo</c> lets the runtime accept
/// the access (see /work/shared/docs/mlnet-conventions.md §1-2).
/// </summary>
internal static class Program
{
    private const string CompilerGenerated = "System.Runtime.CompilerServices.CompilerGeneratedAttribute";

    private static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: MlPublicizer <input.dll> <output.dll>");
            return 1;
        }

        string input = Path.GetFullPath(args[0]);
        string output = Path.GetFullPath(args[1]);
        if (!File.Exists(input))
        {
            Console.Error.WriteLine($"MlPublicizer: error: input assembly '{input}' does not exist.");
            return 1;
        }

        string temp = output + ".tmp";
        try
        {
            // Only the input's own metadata is rewritten; the resolver is there in case Cecil asks, and
            // nothing below needs a dependency to be present.
            using var resolver = new DefaultAssemblyResolver();
            resolver.AddSearchDirectory(Path.GetDirectoryName(input)!);
            // InMemory: the input (often in the NuGet cache) is not kept mapped or locked while we write.
            var readerParameters = new ReaderParameters(ReadingMode.Immediate)
            {
                AssemblyResolver = resolver,
                InMemory = true,
                ReadSymbols = false,
            };
            using var module = ModuleDefinition.ReadModule(input, readerParameters);
            foreach (TypeDefinition type in module.Types)
                Publicize(type);

            Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            // Write beside the target and move, so that an interrupted run never leaves a half-written file
            // that MSBuild's Inputs/Outputs check would then consider up to date.
            module.Write(temp);
            File.Move(temp, output, overwrite: true);
            return 0;
        }
        catch (Exception e)
        {
            // A build step: one readable line (MSBuild shows it) beats a stack trace, whatever Cecil threw.
            Console.Error.WriteLine($"MlPublicizer: error: cannot publicize '{input}' to '{output}': {e.GetType().Name}: {e.Message}");
            File.Delete(temp);
            return 1;
        }
    }

    private static void Publicize(TypeDefinition type)
    {
        // Closures, state machines, <Module>, <PrivateImplementationDetails> and the compiler's embedded
        // attributes (NullableAttribute, ...): exposing them would only create name clashes with ours.
        if (IsCompilerGenerated(type))
            return;

        TypeAttributes visibility = type.Attributes & TypeAttributes.VisibilityMask;
        if (!type.IsNested && visibility == TypeAttributes.NotPublic)
            type.Attributes = (type.Attributes & ~TypeAttributes.VisibilityMask) | TypeAttributes.Public;
        else if (visibility is TypeAttributes.NestedAssembly or TypeAttributes.NestedFamANDAssem or TypeAttributes.NestedFamORAssem)
            type.Attributes = (type.Attributes & ~TypeAttributes.VisibilityMask) | TypeAttributes.NestedPublic;

        foreach (MethodDefinition method in type.Methods)
        {
            MethodAttributes access = method.Attributes & MethodAttributes.MemberAccessMask;
            if (access is not (MethodAttributes.Assembly or MethodAttributes.FamANDAssem or MethodAttributes.FamORAssem)
                || IsCompilerGenerated(method))
                continue;
            // C# forbids changing accessibility when overriding, and an override in another assembly of an
            // internal/private protected/protected internal member must be written `protected`; a public
            // virtual would force our overrides to be public, which the real base then rejects.
            MethodAttributes target = method.IsVirtual ? MethodAttributes.Family : MethodAttributes.Public;
            method.Attributes = (method.Attributes & ~MethodAttributes.MemberAccessMask) | target;
        }

        foreach (FieldDefinition field in type.Fields)
        {
            FieldAttributes access = field.Attributes & FieldAttributes.FieldAccessMask;
            if (access is (FieldAttributes.Assembly or FieldAttributes.FamANDAssem or FieldAttributes.FamORAssem)
                && !IsCompilerGenerated(field))
                field.Attributes = (field.Attributes & ~FieldAttributes.FieldAccessMask) | FieldAttributes.Public;
        }

        foreach (TypeDefinition nested in type.NestedTypes)
            Publicize(nested);
    }

    private static bool IsCompilerGenerated(IMemberDefinition member)
    {
        if (member.Name.Contains('<'))
            return true;
        // Auto-property and field-like event accessors carry [CompilerGenerated] although the property or
        // event itself is user code, so their access must follow the property's.
        if (member is MethodDefinition { IsGetter: true } or MethodDefinition { IsSetter: true }
            or MethodDefinition { IsAddOn: true } or MethodDefinition { IsRemoveOn: true })
            return false;
        return ((ICustomAttributeProvider)member).CustomAttributes.Any(a => a.AttributeType.FullName == CompilerGenerated);
    }
}
