// Why this file exists: TorchSharp 0.107.0's libLibTorchSharp.so declares a version need for
// GLIBCXX_3.4.32 (libstdc++ from GCC 13), but the only symbol bound to it is
// _ZSt21ios_base_library_initv, a reference GCC 13 emits for <iostream> start-up that nothing calls.
// On a libstdc++ that stops earlier (Debian 12: GLIBCXX_3.4.30) the dynamic loader refuses the whole
// .so, and TorchSharp then reports a misleading "doesn't contain a reference to libtorch-cpu" and
// copies ~500 MB into bin/cpu. Marking that one need weak (VER_FLG_WEAK) makes the loader accept it.
//
// The patch is applied only to the copies in build and publish output folders (never to the NuGet
// cache), only for exactly that known case; any other missing version fails the build with a message.
//
// This one file serves two compilers, because RoslynCodeTaskFactory takes a single Source file:
//  * RoslynCodeTaskFactory (Directory.Build.targets) compiles it against netstandard with no
//    preprocessor symbols, so it sees the MSBuild task at the bottom. Hence only netstandard2.0 APIs
//    here (no Span, no File.Move overwrite, no records) and explicit usings.
//  * Tests/LieConv.Tests compiles it as an ordinary SDK project, where NETCOREAPP is defined, so the
//    task (and its Microsoft.Build references) drop out and the pure logic can be unit tested.

#nullable enable

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;

namespace LieConv.Build
{
    /// <summary>A version that a shared library defines (an entry of <c>.gnu.version_d</c>).</summary>
    internal sealed class ElfVersionDefinition
    {
        /// <summary>Creates a definition.</summary>
        /// <param name="name">Version name, e.g. <c>GLIBCXX_3.4.30</c>.</param>
        /// <param name="index">Index that <c>.gnu.version</c> entries use for it (<c>vd_ndx</c>).</param>
        /// <param name="flags">The raw <c>vd_flags</c>.</param>
        public ElfVersionDefinition(string name, ushort index, ushort flags)
        {
            Name = name;
            Index = index;
            Flags = flags;
        }

        /// <summary>Version name, e.g. <c>GLIBCXX_3.4.30</c>.</summary>
        public string Name { get; }

        /// <summary>Index that <c>.gnu.version</c> entries use for this version (<c>vd_ndx</c>).</summary>
        public ushort Index { get; }

        /// <summary>The raw <c>vd_flags</c>.</summary>
        public ushort Flags { get; }

        /// <summary>
        /// True for the entry naming the library itself (its soname), which is not a symbol version.
        /// </summary>
        public bool IsBase => (Flags & ElfSymbolVersions.VerFlagBase) != 0;
    }

    /// <summary>A version that a shared library needs from another one (a Vernaux of <c>.gnu.version_r</c>).</summary>
    internal sealed class ElfVersionNeed
    {
        /// <summary>Creates a need.</summary>
        /// <param name="fileName">Library the version is needed from (<c>vn_file</c>), e.g. <c>libstdc++.so.6</c>.</param>
        /// <param name="versionName">Version name (<c>vna_name</c>).</param>
        /// <param name="flags">The raw <c>vna_flags</c>.</param>
        /// <param name="index">Index that <c>.gnu.version</c> entries use for it (<c>vna_other</c>).</param>
        /// <param name="flagsFileOffset">File offset of the two bytes of <c>vna_flags</c>.</param>
        /// <param name="symbols">Dynamic symbols whose version index is <paramref name="index"/>.</param>
        public ElfVersionNeed(string fileName, string versionName, ushort flags, ushort index, long flagsFileOffset, IReadOnlyList<string> symbols)
        {
            FileName = fileName;
            VersionName = versionName;
            Flags = flags;
            Index = index;
            FlagsFileOffset = flagsFileOffset;
            Symbols = symbols;
        }

        /// <summary>Library the version is needed from (<c>vn_file</c>), e.g. <c>libstdc++.so.6</c>.</summary>
        public string FileName { get; }

        /// <summary>Version name (<c>vna_name</c>), e.g. <c>GLIBCXX_3.4.32</c>.</summary>
        public string VersionName { get; }

        /// <summary>The raw <c>vna_flags</c>.</summary>
        public ushort Flags { get; }

        /// <summary>Index that <c>.gnu.version</c> entries use for this version (<c>vna_other</c>).</summary>
        public ushort Index { get; }

        /// <summary>File offset of the two bytes of <c>vna_flags</c>, the only bytes a patch writes.</summary>
        public long FlagsFileOffset { get; }

        /// <summary>Dynamic symbols bound to this version, in <c>.dynsym</c> order.</summary>
        public IReadOnlyList<string> Symbols { get; }

        /// <summary>
        /// True when the loader treats a missing provider of this version as a warning, not an error.
        /// </summary>
        public bool IsWeak => (Flags & ElfSymbolVersions.VerFlagWeak) != 0;
    }

    /// <summary>
    /// Minimal reader for the symbol-versioning sections of an ELF64 little-endian shared library:
    /// <c>.dynsym</c>/<c>.dynstr</c>, <c>.gnu.version</c>, <c>.gnu.version_r</c> and <c>.gnu.version_d</c>.
    /// </summary>
    internal sealed class ElfSymbolVersions
    {
        /// <summary><c>VER_FLG_BASE</c>: the definition names the file itself.</summary>
        public const ushort VerFlagBase = 0x1;

        /// <summary><c>VER_FLG_WEAK</c>: a missing needed version is not fatal.</summary>
        public const ushort VerFlagWeak = 0x2;

        /// <summary><c>EM_X86_64</c>.</summary>
        public const ushort MachineX86_64 = 62;

        /// <summary><c>EM_AARCH64</c>.</summary>
        public const ushort MachineAArch64 = 183;

        private const uint ShtDynsym = 11;
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const uint ShtGnuVersym = 0x6fffffff;

        // The top bit of a .gnu.version entry marks a hidden symbol; it is not part of the index.
        private const ushort VersymIndexMask = 0x7fff;

        private ElfSymbolVersions(string path, ushort machine, IReadOnlyList<ElfVersionDefinition> definitions, IReadOnlyList<ElfVersionNeed> needs)
        {
            Path = path;
            Machine = machine;
            Definitions = definitions;
            Needs = needs;
        }

        /// <summary>The file that was read.</summary>
        public string Path { get; }

        /// <summary><c>e_machine</c>, e.g. <see cref="MachineX86_64"/>.</summary>
        public ushort Machine { get; }

        /// <summary>Versions the library defines, without the <see cref="VerFlagBase"/> entry.</summary>
        public IReadOnlyList<ElfVersionDefinition> Definitions { get; }

        /// <summary>Versions the library needs from other libraries, with the symbols bound to each.</summary>
        public IReadOnlyList<ElfVersionNeed> Needs { get; }

        /// <summary>Reads the symbol-versioning sections of <paramref name="path"/>.</summary>
        /// <param name="path">An ELF64 little-endian file.</param>
        /// <returns>The versions the file defines and needs.</returns>
        /// <exception cref="InvalidDataException">The file is not ELF64 little-endian, or is truncated or corrupt.</exception>
        public static ElfSymbolVersions Read(string path)
        {
            byte[] data = File.ReadAllBytes(path);
            return Parse(data, path);
        }

        /// <summary>Reads only <c>e_machine</c>, to pick a library of the right architecture cheaply.</summary>
        /// <param name="path">Any file.</param>
        /// <returns><c>e_machine</c>, or null when the file is not ELF64 little-endian or cannot be read.</returns>
        public static ushort? TryReadMachine(string path)
        {
            try
            {
                var header = new byte[20];
                int read;
                using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                {
                    read = stream.Read(header, 0, header.Length);
                }

                if (read < header.Length || !HasElf64LittleEndianIdent(header))
                {
                    return null;
                }

                return (ushort)(header[18] | (header[19] << 8));
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }

        /// <summary>Parses the symbol-versioning sections of an ELF image already in memory.</summary>
        /// <param name="data">The whole file.</param>
        /// <param name="path">Used in messages and as <see cref="Path"/>.</param>
        /// <returns>The versions the image defines and needs.</returns>
        /// <exception cref="InvalidDataException">The image is not ELF64 little-endian, or is truncated or corrupt.</exception>
        public static ElfSymbolVersions Parse(byte[] data, string path)
        {
            if (data.Length < 4 || data[0] != 0x7f || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F')
            {
                throw new InvalidDataException($"{path} is not an ELF file (it does not start with 0x7F 'E' 'L' 'F').");
            }

            if (!HasElf64LittleEndianIdent(data))
            {
                throw new InvalidDataException($"{path} is an ELF file but not ELF64 little-endian, which is all this reader handles.");
            }

            var reader = new Reader(data, path);
            ushort machine = reader.U16(18, "e_machine");
            ulong sectionHeaderOffset = reader.U64(40, "e_shoff");
            ushort sectionHeaderSize = reader.U16(58, "e_shentsize");
            uint sectionCount = reader.U16(60, "e_shnum");

            if (sectionHeaderOffset == 0)
            {
                throw new InvalidDataException($"{path} has no section headers, so its symbol versions cannot be read.");
            }

            if (sectionHeaderSize < 64)
            {
                throw new InvalidDataException($"{path}: e_shentsize {sectionHeaderSize} is smaller than an ELF64 section header.");
            }

            var firstSection = Section.Read(reader, (long)sectionHeaderOffset, 0);
            if (sectionCount == 0)
            {
                // Extended numbering: with 0xff00 or more sections the real count lives in section 0.
                sectionCount = checked((uint)firstSection.Size);
            }

            if ((ulong)sectionCount * sectionHeaderSize > (ulong)data.Length)
            {
                throw new InvalidDataException($"{path}: {sectionCount} section headers do not fit in a {data.Length}-byte file.");
            }

            var sections = new Section[sectionCount];
            for (uint i = 0; i < sectionCount; i++)
            {
                sections[i] = Section.Read(reader, checked((long)sectionHeaderOffset + (long)i * sectionHeaderSize), i);
            }

            Section? dynsym = sections.FirstOrDefault(s => s.Type == ShtDynsym);
            Section? versym = sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
            Section? verneed = sections.FirstOrDefault(s => s.Type == ShtGnuVerneed);
            Section? verdef = sections.FirstOrDefault(s => s.Type == ShtGnuVerdef);

            IReadOnlyList<ElfVersionDefinition> definitions = verdef is null
                ? Array.Empty<ElfVersionDefinition>()
                : ReadDefinitions(reader, verdef, LinkedSection(reader, sections, verdef));

            var rawNeeds = verneed is null
                ? new List<RawNeed>()
                : ReadNeeds(reader, verneed, LinkedSection(reader, sections, verneed));

            var symbolsByIndex = new Dictionary<ushort, List<string>>();
            if (dynsym is not null && versym is not null && rawNeeds.Count > 0)
            {
                Section dynstr = LinkedSection(reader, sections, dynsym);
                const int symbolSize = 24;
                long symbolCount = (long)(dynsym.Size / symbolSize);
                long versymCount = (long)(versym.Size / 2);
                long count = Math.Min(symbolCount, versymCount);

                // Entry 0 of both tables is the reserved null symbol.
                for (long i = 1; i < count; i++)
                {
                    ushort index = (ushort)(reader.U16(versym.At(i * 2, 2, reader), ".gnu.version entry") & VersymIndexMask);
                    if (index < 2)
                    {
                        // 0 is local, 1 is the global base version: neither names a needed version.
                        continue;
                    }

                    if (!symbolsByIndex.TryGetValue(index, out List<string>? names))
                    {
                        names = new List<string>();
                        symbolsByIndex.Add(index, names);
                    }

                    uint nameOffset = reader.U32(dynsym.At(i * symbolSize, symbolSize, reader), "st_name");
                    names.Add(reader.String(dynstr, nameOffset));
                }
            }

            var needs = rawNeeds
                .Select(n => new ElfVersionNeed(
                    n.FileName,
                    n.VersionName,
                    n.Flags,
                    n.Index,
                    n.FlagsOffset,
                    symbolsByIndex.TryGetValue(n.Index, out List<string>? names) ? names : (IReadOnlyList<string>)Array.Empty<string>()))
                .ToList();

            return new ElfSymbolVersions(path, machine, definitions, needs);
        }

        private static bool HasElf64LittleEndianIdent(byte[] header) =>
            header.Length >= 6
            && header[0] == 0x7f && header[1] == (byte)'E' && header[2] == (byte)'L' && header[3] == (byte)'F'
            && header[4] == 2 // ELFCLASS64
            && header[5] == 1; // ELFDATA2LSB

        private static Section LinkedSection(Reader reader, Section[] sections, Section section)
        {
            if (section.Link == 0 || section.Link >= sections.Length)
            {
                throw new InvalidDataException($"{reader.Path}: section {section.Number} links to section {section.Link}, which does not exist.");
            }

            return sections[section.Link];
        }

        private static List<ElfVersionDefinition> ReadDefinitions(Reader reader, Section verdef, Section strings)
        {
            var definitions = new List<ElfVersionDefinition>();
            long offset = 0;

            // sh_info holds the entry count; the bound also stops a corrupt vd_next cycle.
            for (uint entry = 0; entry < verdef.Info; entry++)
            {
                long at = verdef.At(offset, 20, reader);
                ushort version = reader.U16(at, "vd_version");
                if (version != 1)
                {
                    throw new InvalidDataException($"{reader.Path}: unsupported vd_version {version} in .gnu.version_d.");
                }

                ushort flags = reader.U16(at + 2, "vd_flags");
                ushort index = reader.U16(at + 4, "vd_ndx");
                ushort auxCount = reader.U16(at + 6, "vd_cnt");
                uint aux = reader.U32(at + 12, "vd_aux");
                uint next = reader.U32(at + 16, "vd_next");

                if (auxCount > 0)
                {
                    // The first Verdaux names the version; later ones name the versions it inherits from.
                    long auxAt = verdef.At(offset + aux, 8, reader);
                    string name = reader.String(strings, reader.U32(auxAt, "vda_name"));
                    var definition = new ElfVersionDefinition(name, index, flags);
                    if (!definition.IsBase)
                    {
                        definitions.Add(definition);
                    }
                }

                if (next == 0)
                {
                    break;
                }

                offset += next;
            }

            return definitions;
        }

        private static List<RawNeed> ReadNeeds(Reader reader, Section verneed, Section strings)
        {
            var needs = new List<RawNeed>();
            long offset = 0;

            // sh_info holds the Verneed count; bounding both loops also stops corrupt next-offset cycles.
            for (uint entry = 0; entry < verneed.Info; entry++)
            {
                long at = verneed.At(offset, 16, reader);
                ushort version = reader.U16(at, "vn_version");
                if (version != 1)
                {
                    throw new InvalidDataException($"{reader.Path}: unsupported vn_version {version} in .gnu.version_r.");
                }

                ushort auxCount = reader.U16(at + 2, "vn_cnt");
                string fileName = reader.String(strings, reader.U32(at + 4, "vn_file"));
                uint aux = reader.U32(at + 8, "vn_aux");
                uint next = reader.U32(at + 12, "vn_next");

                long auxOffset = offset + aux;
                for (int i = 0; i < auxCount; i++)
                {
                    long auxAt = verneed.At(auxOffset, 16, reader);
                    ushort flags = reader.U16(auxAt + 4, "vna_flags");
                    ushort index = reader.U16(auxAt + 6, "vna_other");
                    string name = reader.String(strings, reader.U32(auxAt + 8, "vna_name"));
                    uint auxNext = reader.U32(auxAt + 12, "vna_next");
                    needs.Add(new RawNeed(fileName, name, flags, index, auxAt + 4));
                    if (auxNext == 0)
                    {
                        break;
                    }

                    auxOffset += auxNext;
                }

                if (next == 0)
                {
                    break;
                }

                offset += next;
            }

            return needs;
        }

        private sealed class RawNeed
        {
            public RawNeed(string fileName, string versionName, ushort flags, ushort index, long flagsOffset)
            {
                FileName = fileName;
                VersionName = versionName;
                Flags = flags;
                Index = index;
                FlagsOffset = flagsOffset;
            }

            public string FileName { get; }

            public string VersionName { get; }

            public ushort Flags { get; }

            public ushort Index { get; }

            public long FlagsOffset { get; }
        }

        private sealed class Section
        {
            private Section(uint number, uint type, ulong offset, ulong size, uint link, uint info)
            {
                Number = number;
                Type = type;
                Offset = offset;
                Size = size;
                Link = link;
                Info = info;
            }

            public uint Number { get; }

            public uint Type { get; }

            public ulong Offset { get; }

            public ulong Size { get; }

            public uint Link { get; }

            public uint Info { get; }

            public static Section Read(Reader reader, long at, uint number) =>
                new Section(
                    number,
                    reader.U32(at + 4, "sh_type"),
                    reader.U64(at + 24, "sh_offset"),
                    reader.U64(at + 32, "sh_size"),
                    reader.U32(at + 40, "sh_link"),
                    reader.U32(at + 44, "sh_info"));

            /// <summary>File offset of <paramref name="length"/> bytes at <paramref name="relative"/> inside this section.</summary>
            public long At(long relative, int length, Reader reader)
            {
                if (relative < 0 || (ulong)relative + (ulong)length > Size)
                {
                    throw new InvalidDataException($"{reader.Path}: a read of {length} bytes at 0x{relative:x} runs past the end of section {Number}.");
                }

                return checked((long)Offset + relative);
            }
        }

        private sealed class Reader
        {
            private readonly byte[] _data;

            public Reader(byte[] data, string path)
            {
                _data = data;
                Path = path;
            }

            public string Path { get; }

            public ushort U16(long at, string what)
            {
                Check(at, 2, what);
                return (ushort)(_data[at] | (_data[at + 1] << 8));
            }

            public uint U32(long at, string what)
            {
                Check(at, 4, what);
                return (uint)(_data[at] | (_data[at + 1] << 8) | (_data[at + 2] << 16) | (_data[at + 3] << 24));
            }

            public ulong U64(long at, string what) => U32(at, what) | ((ulong)U32(at + 4, what) << 32);

            public string String(Section table, uint offset)
            {
                long start = table.At(offset, 1, this);
                long end = checked((long)(table.Offset + table.Size));
                if (end > _data.Length)
                {
                    throw new InvalidDataException($"{Path}: string table section {table.Number} runs past the end of the file.");
                }

                long terminator = Array.IndexOf(_data, (byte)0, (int)start, (int)(end - start));
                if (terminator < 0)
                {
                    throw new InvalidDataException($"{Path}: unterminated string at 0x{start:x} in section {table.Number}.");
                }

                return Encoding.UTF8.GetString(_data, (int)start, (int)(terminator - start));
            }

            private void Check(long at, int length, string what)
            {
                if (at < 0 || at + length > _data.Length)
                {
                    throw new InvalidDataException($"{Path} is truncated or corrupt: {what} at 0x{at:x} lies outside the {_data.Length}-byte file.");
                }
            }
        }
    }

    /// <summary>What <see cref="LibTorchSharpPatcher.Decide"/> concluded for one libLibTorchSharp.so.</summary>
    internal enum LibTorchSharpPatchAction
    {
        /// <summary>The system provides every needed libstdc++ version, or the known need is already weak.</summary>
        NothingToDo,

        /// <summary>Exactly the known case: weaken <see cref="LibTorchSharpPatcher.KnownMissingVersion"/>.</summary>
        Patch,

        /// <summary>Versions are missing beyond the known case; patching would only hide a real load failure.</summary>
        Fail,
    }

    /// <summary>The outcome of <see cref="LibTorchSharpPatcher.Decide"/>, with a message fit for a build log.</summary>
    internal sealed class LibTorchSharpPatchDecision
    {
        /// <summary>Creates a decision.</summary>
        /// <param name="action">What to do.</param>
        /// <param name="message">Why, for a build log.</param>
        /// <param name="versionsToWeaken">Version names to mark weak when <paramref name="action"/> is Patch.</param>
        public LibTorchSharpPatchDecision(LibTorchSharpPatchAction action, string message, IReadOnlyList<string> versionsToWeaken)
        {
            Action = action;
            Message = message;
            VersionsToWeaken = versionsToWeaken;
        }

        /// <summary>What to do.</summary>
        public LibTorchSharpPatchAction Action { get; }

        /// <summary>Why, for a build log.</summary>
        public string Message { get; }

        /// <summary>Names of the libstdc++ versions to mark weak; empty unless <see cref="Action"/> is Patch.</summary>
        public IReadOnlyList<string> VersionsToWeaken { get; }
    }

    /// <summary>Decides whether a libLibTorchSharp.so copy needs the weak-version patch, and applies it.</summary>
    internal static class LibTorchSharpPatcher
    {
        /// <summary>The soname whose versions matter here.</summary>
        public const string LibStdCxxSoname = "libstdc++.so.6";

        /// <summary>The one version need the patch may weaken.</summary>
        public const string KnownMissingVersion = "GLIBCXX_3.4.32";

        /// <summary>The one symbol that may be bound to <see cref="KnownMissingVersion"/>.</summary>
        public const string KnownSymbol = "_ZSt21ios_base_library_initv";

        // Named in failure messages so whoever meets one knows where the reasoning lives.
        private const string ThisFile = "build/ElfSymbolVersions.cs";

        private const int MaxSymbolsInMessage = 8;

        /// <summary>Directories where distributions put the system libstdc++, most specific first.</summary>
        public static readonly IReadOnlyList<string> LibStdCxxSearchDirectories = new[]
        {
            "/usr/lib/x86_64-linux-gnu",
            "/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/lib64",
            "/usr/lib",
            "/lib",
        };

        /// <summary>
        /// Decides what to do with <paramref name="library"/> given the versions the system libstdc++ defines.
        /// </summary>
        /// <param name="library">The parsed libLibTorchSharp.so.</param>
        /// <param name="systemVersions">Version names the system libstdc++ defines (GLIBCXX_*, CXXABI_*).</param>
        /// <param name="systemLibraryPath">Where those versions came from, for messages.</param>
        /// <returns>The decision and its message.</returns>
        public static LibTorchSharpPatchDecision Decide(ElfSymbolVersions library, IEnumerable<string> systemVersions, string systemLibraryPath)
        {
            var provided = new HashSet<string>(systemVersions, StringComparer.Ordinal);
            var fromLibStdCxx = library.Needs.Where(n => n.FileName == LibStdCxxSoname).ToList();
            var missing = fromLibStdCxx.Where(n => !provided.Contains(n.VersionName)).ToList();
            var missingStrong = missing.Where(n => !n.IsWeak).ToList();

            if (missing.Count == 0)
            {
                return new LibTorchSharpPatchDecision(
                    LibTorchSharpPatchAction.NothingToDo,
                    $"{library.Path}: the system libstdc++ ({systemLibraryPath}) provides all {fromLibStdCxx.Count} versions it needs; no patch needed.",
                    Array.Empty<string>());
            }

            if (missingStrong.Count == 0)
            {
                return new LibTorchSharpPatchDecision(
                    LibTorchSharpPatchAction.NothingToDo,
                    $"{library.Path}: {Describe(missing)} already marked weak (patched earlier); nothing to do.",
                    Array.Empty<string>());
            }

            bool isKnownCase = missingStrong.Count == 1
                && missingStrong[0].VersionName == KnownMissingVersion
                && missingStrong[0].Symbols.Count > 0
                && missingStrong[0].Symbols.All(s => s == KnownSymbol);

            if (isKnownCase)
            {
                return new LibTorchSharpPatchDecision(
                    LibTorchSharpPatchAction.Patch,
                    $"Marked {KnownMissingVersion} weak in {library.Path}: the system libstdc++ ({systemLibraryPath}) lacks it, "
                    + $"and the only symbol bound to it, {KnownSymbol}, is never called; without this the library does not load.",
                    new[] { KnownMissingVersion });
            }

            return new LibTorchSharpPatchDecision(
                LibTorchSharpPatchAction.Fail,
                $"TorchSharp's libLibTorchSharp.so ({library.Path}) now needs {Describe(missingStrong)}, "
                + $"which this system's libstdc++ ({systemLibraryPath}) lacks; the weak-version patch only covers "
                + $"{KnownMissingVersion} for {KnownSymbol}. Upgrade libstdc++ (GCC 13 or later provides {KnownMissingVersion}) "
                + $"or revisit {ThisFile} and the PatchLibTorchSharp targets in Directory.Build.targets.",
                Array.Empty<string>());
        }

        /// <summary>
        /// Reads <paramref name="libraryPath"/>, decides, and applies the patch when the decision is Patch.
        /// </summary>
        /// <param name="libraryPath">A libLibTorchSharp.so copy in an output folder (never the NuGet cache).</param>
        /// <param name="systemVersions">Version names the system libstdc++ defines.</param>
        /// <param name="systemLibraryPath">Where those versions came from, for messages.</param>
        /// <returns>The decision that was acted on.</returns>
        public static LibTorchSharpPatchDecision PatchIfNeeded(string libraryPath, IEnumerable<string> systemVersions, string systemLibraryPath)
        {
            LibTorchSharpPatchDecision decision = Decide(ElfSymbolVersions.Read(libraryPath), systemVersions, systemLibraryPath);
            if (decision.Action == LibTorchSharpPatchAction.Patch)
            {
                SetWeakFlag(libraryPath, decision.VersionsToWeaken);
            }

            return decision;
        }

        /// <summary>
        /// Sets <see cref="ElfSymbolVersions.VerFlagWeak"/> on the libstdc++ needs named
        /// <paramref name="versionNames"/>, writing only their <c>vna_flags</c>.
        /// </summary>
        /// <remarks>
        /// The output copy may be a hard link into the NuGet cache (MSBuild can link instead of copy),
        /// so the file is never opened for writing: a private copy is patched and renamed over it.
        /// </remarks>
        /// <param name="libraryPath">The file to patch.</param>
        /// <param name="versionNames">Version names needed from libstdc++.so.6.</param>
        public static void SetWeakFlag(string libraryPath, IEnumerable<string> versionNames)
        {
            string fullPath = System.IO.Path.GetFullPath(libraryPath);
            string directory = System.IO.Path.GetDirectoryName(fullPath)
                ?? throw new ArgumentException($"{libraryPath} has no directory.", nameof(libraryPath));

            // Same directory, so the final rename stays on one file system and is atomic.
            string temporary = System.IO.Path.Combine(
                directory,
                "." + System.IO.Path.GetFileName(fullPath) + "." + Guid.NewGuid().ToString("N") + ".tmp");
            try
            {
                File.Copy(fullPath, temporary);
                FileAttributes attributes = File.GetAttributes(temporary);
                if ((attributes & FileAttributes.ReadOnly) != 0)
                {
                    File.SetAttributes(temporary, attributes & ~FileAttributes.ReadOnly);
                }

                // Offsets come from the private copy, so a file that changed since Decide cannot be mis-patched.
                ElfSymbolVersions copy = ElfSymbolVersions.Read(temporary);
                using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                {
                    foreach (string versionName in versionNames)
                    {
                        ElfVersionNeed need = copy.Needs.FirstOrDefault(n => n.FileName == LibStdCxxSoname && n.VersionName == versionName)
                            ?? throw new InvalidOperationException($"{fullPath} does not need {versionName} from {LibStdCxxSoname}.");
                        ushort flags = (ushort)(need.Flags | ElfSymbolVersions.VerFlagWeak);
                        stream.Position = need.FlagsFileOffset;
                        stream.Write(new[] { (byte)(flags & 0xff), (byte)(flags >> 8) }, 0, 2);
                    }
                }

                // MSBuild's copy-local step skips a file whose size and time match the package's; keeping the time
                // stops it from restoring the unpatched original on every build (and racing a running test host).
                File.SetLastWriteTimeUtc(temporary, File.GetLastWriteTimeUtc(fullPath));

                // On Unix File.Replace is rename(2): it swaps the directory entry and never writes the old inode.
                File.Replace(temporary, fullPath, null);
            }
            finally
            {
                if (File.Exists(temporary))
                {
                    File.Delete(temporary);
                }
            }
        }

        /// <summary>Reads the version names a libstdc++ defines.</summary>
        /// <param name="libStdCxxPath">Path of a libstdc++.so.6.</param>
        /// <returns>Its GLIBCXX_* and CXXABI_* (and any other) version names.</returns>
        public static ISet<string> ReadProvidedVersions(string libStdCxxPath) =>
            new HashSet<string>(ElfSymbolVersions.Read(libStdCxxPath).Definitions.Select(d => d.Name), StringComparer.Ordinal);

        /// <summary>
        /// Finds the libstdc++.so.6 the loader would most likely use for a library of machine
        /// <paramref name="machine"/>: the usual distribution directories first, then <c>ldconfig -p</c>.
        /// </summary>
        /// <param name="machine">The <c>e_machine</c> the library must match.</param>
        /// <returns>The path, or null when none was found.</returns>
        public static string? FindSystemLibStdCxx(ushort machine)
        {
            foreach (string directory in LibStdCxxSearchDirectories)
            {
                string candidate = System.IO.Path.Combine(directory, LibStdCxxSoname);
                if (File.Exists(candidate) && ElfSymbolVersions.TryReadMachine(candidate) == machine)
                {
                    return candidate;
                }
            }

            foreach (string candidate in LdconfigCandidates())
            {
                if (File.Exists(candidate) && ElfSymbolVersions.TryReadMachine(candidate) == machine)
                {
                    return candidate;
                }
            }

            return null;
        }

        /// <summary>Paths of libstdc++.so.6 listed by <c>ldconfig -p</c>; empty when ldconfig is unavailable.</summary>
        /// <returns>Candidate paths in ldconfig's order.</returns>
        public static IReadOnlyList<string> LdconfigCandidates()
        {
            string? ldconfig = new[] { "/sbin/ldconfig", "/usr/sbin/ldconfig", "/bin/ldconfig", "/usr/bin/ldconfig" }.FirstOrDefault(File.Exists);
            if (ldconfig is null)
            {
                return Array.Empty<string>();
            }

            string output;
            try
            {
                var start = new ProcessStartInfo(ldconfig, "-p")
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    CreateNoWindow = true,
                };
                using (Process? process = Process.Start(start))
                {
                    if (process is null)
                    {
                        return Array.Empty<string>();
                    }

                    process.ErrorDataReceived += (_, _) => { };
                    process.BeginErrorReadLine();
                    output = process.StandardOutput.ReadToEnd();
                    if (!process.WaitForExit(10000))
                    {
                        return Array.Empty<string>();
                    }
                }
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception || e is IOException || e is InvalidOperationException)
            {
                return Array.Empty<string>();
            }

            return ParseLdconfig(output);
        }

        /// <summary>Extracts libstdc++.so.6 paths from <c>ldconfig -p</c> output.</summary>
        /// <param name="output">Lines like <c>libstdc++.so.6 (libc6,x86-64) =&gt; /usr/lib/x86_64-linux-gnu/libstdc++.so.6</c>.</param>
        /// <returns>The paths, in order.</returns>
        public static IReadOnlyList<string> ParseLdconfig(string output)
        {
            var paths = new List<string>();
            foreach (string rawLine in output.Split('\n'))
            {
                string line = rawLine.Trim();
                int arrow = line.IndexOf("=>", StringComparison.Ordinal);
                if (arrow < 0 || !line.StartsWith(LibStdCxxSoname + " ", StringComparison.Ordinal))
                {
                    continue;
                }

                string path = line.Substring(arrow + 2).Trim();
                if (path.Length > 0)
                {
                    paths.Add(path);
                }
            }

            return paths;
        }

        private static string Describe(IEnumerable<ElfVersionNeed> needs) =>
            string.Join(", ", needs.Select(n => $"{n.VersionName} (for {DescribeSymbols(n.Symbols)})"));

        private static string DescribeSymbols(IReadOnlyList<string> symbols)
        {
            if (symbols.Count == 0)
            {
                return "no symbols";
            }

            string shown = string.Join(", ", symbols.Take(MaxSymbolsInMessage));
            return symbols.Count > MaxSymbolsInMessage ? $"{shown} and {symbols.Count - MaxSymbolsInMessage} more" : shown;
        }
    }
}

#if !NETCOREAPP
namespace LieConv.Build
{
    /// <summary>
    /// MSBuild task: checks every given libLibTorchSharp.so copy against the system libstdc++ and
    /// applies the weak-version patch where <see cref="LibTorchSharpPatcher.Decide"/> says so.
    /// </summary>
    public sealed class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
    {
        /// <summary>libLibTorchSharp.so copies in an output or publish folder.</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <inheritdoc />
        public override bool Execute()
        {
            var systemByMachine = new Dictionary<ushort, (string? Path, ISet<string> Versions)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);

            foreach (Microsoft.Build.Framework.ITaskItem item in Files)
            {
                string path = item.GetMetadata("FullPath");
                if (!seen.Add(path))
                {
                    continue;
                }

                try
                {
                    ElfSymbolVersions library = ElfSymbolVersions.Read(path);
                    if (!systemByMachine.TryGetValue(library.Machine, out var system))
                    {
                        string? found = LibTorchSharpPatcher.FindSystemLibStdCxx(library.Machine);
                        system = (found, found is null ? new HashSet<string>() : LibTorchSharpPatcher.ReadProvidedVersions(found));
                        systemByMachine.Add(library.Machine, system);
                    }

                    if (system.Path is null)
                    {
                        // Without the system's version list there is nothing to decide on, and patching blindly could hide a real mismatch.
                        Log.LogMessage(
                            Microsoft.Build.Framework.MessageImportance.Normal,
                            $"{path}: no {LibTorchSharpPatcher.LibStdCxxSoname} for ELF machine {library.Machine} found in "
                            + $"{string.Join(", ", LibTorchSharpPatcher.LibStdCxxSearchDirectories)} or ldconfig -p; left as it is.");
                        continue;
                    }

                    LibTorchSharpPatchDecision decision = LibTorchSharpPatcher.Decide(library, system.Versions, system.Path);
                    switch (decision.Action)
                    {
                        case LibTorchSharpPatchAction.Patch:
                            LibTorchSharpPatcher.SetWeakFlag(path, decision.VersionsToWeaken);
                            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, decision.Message);
                            break;
                        case LibTorchSharpPatchAction.Fail:
                            Log.LogError(decision.Message);
                            break;
                        default:
                            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, decision.Message);
                            break;
                    }
                }
                catch (Exception e) when (e is InvalidDataException || e is IOException || e is UnauthorizedAccessException || e is InvalidOperationException)
                {
                    // A copy that cannot be read or patched would fail at run time in a more confusing way.
                    Log.LogError($"Could not check or patch {path} for the system libstdc++: {e.Message}");
                }
            }

            return !Log.HasLoggedErrors;
        }
    }
}
#endif
