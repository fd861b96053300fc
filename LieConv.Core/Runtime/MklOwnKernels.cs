using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace LieConv.Runtime;

/// <summary>
/// Makes libtorch's MKL run its own matrix kernels on x86-64 processors that are not Intel's (Linux), by answering
/// MKL's vendor test <c>mkl_serv_intel_cpu_true()</c> with 1 from a tiny shared object in the process's global scope,
/// loaded before libtorch. MKL's own checks of AVX2/AVX-512 still pick the kernels; only the vendor test is answered.
/// </summary>
/// <remarks>
/// <para>Why: on an AMD EPYC with AVX-512, MKL's generic kernels ran float32 products at 142–174 GFLOP/s and its own at
/// 300–375 (README → Runtime → "AMD processors"), and whole training steps took 1.3–2.2× longer. libtorch_cpu.so calls the vendor
/// test through its procedure linkage table, so the first definition in the global scope answers — the same
/// interposition as <c>LD_PRELOAD</c>, done in-process so that no user has to know about it. The shared object is
/// written here (a few hundred bytes, one function: <c>mov eax, 1; ret</c>) because an application cannot count on a
/// C compiler; it lives in an anonymous memory file, or a private temporary directory where that is refused, and
/// nothing is left on disk.</para>
/// <para>It runs once, from LieConv.Core's module initializer (and the other LieConv assemblies', which run Core's), so
/// before any LieConv code calls libtorch. It does nothing when libtorch_cpu.so is already loaded — MKL may have
/// chosen its kernels already, and answering late would make <see cref="TorchRuntime.MklTakesGenericKernels"/> guess
/// — or when <c>LIECONV_MKL_OWN_KERNELS=0</c> asks to keep the generic kernels.</para>
/// </remarks>
internal static class MklOwnKernels
{
    /// <summary>The environment variable that turns this off with the value 0.</summary>
    internal const string SwitchVariable = "LIECONV_MKL_OWN_KERNELS";

    /// <summary>MKL's vendor test, the function the shared object defines.</summary>
    internal const string VendorTest = "mkl_serv_intel_cpu_true";

    private const string Applied = "applied";

    /// <summary>What happened in this process (for diagnostics and tests).</summary>
    internal static string Outcome { get; private set; } = "not attempted";

    /// <summary>Whether this process loaded the answering shared object.</summary>
    internal static bool Loaded => Outcome == Applied;

    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification =
        "MKL chooses its kernels at its first product: the answer must be in place before any LieConv code calls libtorch.")]
    internal static void ApplyAtLoad()
    {
        try
        {
            Apply();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Outcome = "not applied: " + e.Message;   // never stop a process over a speed-up
        }
    }

    private static void Apply()
    {
        bool linux = OperatingSystem.IsLinux();
        var (architecture, vendor, switchValue) = (RuntimeInformation.ProcessArchitecture, ProcessorVendor(), Environment.GetEnvironmentVariable(SwitchVariable));
        // Whether libtorch is loaded is asked last, through libdl: only where everything else says yes.
        var reason = Refusal(linux, architecture, vendor, switchValue, libtorchLoaded: false)
            ?? Refusal(linux, architecture, vendor, switchValue, IsLoaded("libtorch_cpu.so"));
        if (reason is not null)
        {
            Outcome = "not applied: " + reason;
            return;
        }
        Outcome = LoadGlobally(SharedObject()) ? Applied : "not applied: the shared object could not be loaded";
    }

    /// <summary>Why the vendor test is left alone in a process with these facts; null when it is answered.</summary>
    internal static string? Refusal(bool linux, Architecture architecture, string? vendor, string? switchValue, bool libtorchLoaded) =>
        !linux ? "not Linux"
        : architecture != Architecture.X64 ? "not an x86-64 process"
        : vendor is null or "GenuineIntel" ? "an Intel processor (MKL takes its own kernels already)"
        : switchValue?.Trim() == "0" ? $"{SwitchVariable}=0"
        : libtorchLoaded ? "libtorch was loaded before LieConv (MKL may have chosen its kernels already)"
        : null;

    /// <summary>The processor's vendor string from CPUID leaf 0 ("GenuineIntel", "AuthenticAMD", …); null off x86.</summary>
    internal static string? ProcessorVendor()
    {
        if (!X86Base.IsSupported) return null;
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<byte> name = stackalloc byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(name, ebx);
        BinaryPrimitives.WriteInt32LittleEndian(name[4..], edx);
        BinaryPrimitives.WriteInt32LittleEndian(name[8..], ecx);
        return System.Text.Encoding.ASCII.GetString(name);
    }

    /// <summary>
    /// An x86-64 ELF shared object that defines one global function, <c>mkl_serv_intel_cpu_true</c>, returning 1:
    /// the header, four program headers (code, the dynamic section in a writable segment since the loader adjusts it
    /// in place, PT_DYNAMIC, and a non-executable stack), a one-bucket symbol hash table, the symbols, their names,
    /// the code and the dynamic section.
    /// </summary>
    internal static byte[] SharedObject()
    {
        const int header = 64, programHeader = 56, programHeaders = 4;
        const int hash = header + programHeaders * programHeader;   // 288
        const int symbols = hash + 16, symbolSize = 24;             // 304
        const int names = symbols + 2 * symbolSize;                 // 352
        byte[] nameBytes = [0, .. System.Text.Encoding.ASCII.GetBytes(VendorTest), 0];
        const int code = 384;
        byte[] codeBytes = [0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3];    // mov eax, 1; ret
        const int dynamic = 400, dynamicEntries = 6, page = 0x1000;
        const long dynamicAddress = page + dynamic;                  // the second segment maps the same page one page up
        int size = dynamic + dynamicEntries * 16;
        var image = new byte[size];
        var s = image.AsSpan();

        // ELF header: 64-bit, little-endian, version 1, ET_DYN for x86-64.
        s[0] = 0x7F; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F'; s[4] = 2; s[5] = 1; s[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 3);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 62);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], header);                   // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(s[52..], header);                   // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[54..], programHeader);            // e_phentsize
        BinaryPrimitives.WriteUInt16LittleEndian(s[56..], programHeaders);           // e_phnum
        BinaryPrimitives.WriteUInt16LittleEndian(s[58..], 64);                       // e_shentsize (no sections)

        void Program(int index, uint type, uint flags, long offset, long address, long length, long align)
        {
            var p = image.AsSpan(header + index * programHeader);
            BinaryPrimitives.WriteUInt32LittleEndian(p, type);
            BinaryPrimitives.WriteUInt32LittleEndian(p[4..], flags);
            BinaryPrimitives.WriteInt64LittleEndian(p[8..], offset);
            BinaryPrimitives.WriteInt64LittleEndian(p[16..], address);
            BinaryPrimitives.WriteInt64LittleEndian(p[24..], address);
            BinaryPrimitives.WriteInt64LittleEndian(p[32..], length);
            BinaryPrimitives.WriteInt64LittleEndian(p[40..], length);
            BinaryPrimitives.WriteInt64LittleEndian(p[48..], align);
        }
        const uint load = 1, dynamicType = 2, gnuStack = 0x6474E551, read = 4, write = 2, execute = 1;
        Program(0, load, read | execute, 0, 0, code + codeBytes.Length, page);
        Program(1, load, read | write, dynamic, dynamicAddress, dynamicEntries * 16, page);
        Program(2, dynamicType, read | write, dynamic, dynamicAddress, dynamicEntries * 16, 8);
        Program(3, gnuStack, read | write, 0, 0, 0, 16);

        // DT_HASH: one bucket holding symbol 1, whose chain ends.
        BinaryPrimitives.WriteUInt32LittleEndian(s[hash..], 1);         // nbucket
        BinaryPrimitives.WriteUInt32LittleEndian(s[(hash + 4)..], 2);   // nchain = symbol count
        BinaryPrimitives.WriteUInt32LittleEndian(s[(hash + 8)..], 1);   // bucket[0]

        // Symbol 1: global function, default visibility, defined (any section index but UNDEF/ABS), at the code.
        var symbol = s[(symbols + symbolSize)..];
        BinaryPrimitives.WriteUInt32LittleEndian(symbol, 1);            // st_name
        symbol[4] = 0x12;                                               // STB_GLOBAL, STT_FUNC
        BinaryPrimitives.WriteUInt16LittleEndian(symbol[6..], 1);       // st_shndx
        BinaryPrimitives.WriteUInt64LittleEndian(symbol[8..], code);
        BinaryPrimitives.WriteUInt64LittleEndian(symbol[16..], (ulong)codeBytes.Length);
        nameBytes.CopyTo(s[names..]);
        codeBytes.CopyTo(s[code..]);

        void Dynamic(int index, long tag, long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(image.AsSpan(dynamic + index * 16), tag);
            BinaryPrimitives.WriteInt64LittleEndian(image.AsSpan(dynamic + index * 16 + 8), value);
        }
        Dynamic(0, 4, hash);                  // DT_HASH
        Dynamic(1, 5, names);                 // DT_STRTAB
        Dynamic(2, 6, symbols);               // DT_SYMTAB
        Dynamic(3, 10, nameBytes.Length);     // DT_STRSZ
        Dynamic(4, 11, symbolSize);           // DT_SYMENT
        Dynamic(5, 0, 0);                     // DT_NULL
        return image;
    }

    /// <summary>Loads <paramref name="image"/> with RTLD_NOW | RTLD_GLOBAL from an anonymous memory file, else a private temporary file.</summary>
    private static bool LoadGlobally(byte[] image)
    {
        int fd = TryMemoryFile("lieconv-mkl-own-kernels");
        if (fd >= 0)
        {
            using (var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true))   // the mapping outlives it
            {
                RandomAccess.Write(handle, image, 0);
                if (Open($"/proc/self/fd/{fd}", Now | Global) != IntPtr.Zero) return true;
            }
        }
        var directory = Directory.CreateTempSubdirectory("lieconv-");   // mode 0700: no one else can put a file there
        try
        {
            var path = Path.Combine(directory.FullName, "mkl-own-kernels.so");
            File.WriteAllBytes(path, image);
            return Open(path, Now | Global) != IntPtr.Zero;
        }
        finally
        {
            directory.Delete(recursive: true);   // the mapping outlives the file
        }
    }

    /// <summary>
    /// Whether a library of this name is loaded in the process: RTLD_NOLOAD opens only a loaded one, and matches its
    /// SONAME however it was opened (libtorch_cpu.so's is its file name).
    /// </summary>
    private static bool IsLoaded(string soname)
    {
        var handle = Open(soname, Now | NoLoad);
        if (handle == IntPtr.Zero) return false;
        CloseLibrary(handle);
        return true;
    }

    private const int Now = 0x2, Global = 0x100, NoLoad = 0x4;

    // libdl.so.2 exists on every glibc: the functions themselves since 2.34 in libc, with libdl forwarding to them.
    [DllImport("libdl.so.2", EntryPoint = "dlopen")]
    private static extern IntPtr Open(string file, int mode);

    [DllImport("libdl.so.2", EntryPoint = "dlclose")]
    private static extern int CloseLibrary(IntPtr handle);

    [DllImport("libc", EntryPoint = "memfd_create", SetLastError = true)]
    private static extern int MemoryFile(string name, uint flags);

    /// <summary>An anonymous memory file's descriptor, or −1 (glibc before 2.27 lacks the call; a sandbox may refuse it).</summary>
    private static int TryMemoryFile(string name)
    {
        try
        {
            return MemoryFile(name, 0);
        }
        catch (EntryPointNotFoundException)
        {
            return -1;
        }
    }
}
