using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using LieConv.Datasets.Io;
using NUnit.Framework;

namespace LieConv.Tests.Datasets;

/// <summary>
/// The .npy/.npz reader and writer: round trips, hand-built headers of every version and byte order, every kind of
/// malformed input (each must name its source), and the real QM9 test split from the shared data folder.
/// </summary>
[TestFixture]
public sealed class NpyTests
{
    private static readonly NpyType[] AllTypes = Enum.GetValues<NpyType>();

    private static readonly long[][] Shapes = [[], [0], [3], [2, 3, 4]];

    private string _directory = "";

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "lieconv-npy-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    // ---------------------------------------------------------------- round trips

    private static IEnumerable<TestCaseData> TypesAndShapes() =>
        from type in AllTypes
        from shape in Shapes
        select new TestCaseData(type, shape).SetArgDisplayNames(type.ToString(), NpyArrayShape(shape));

    [TestCaseSource(nameof(TypesAndShapes))]
    public void Write_ThenRead_GivesBackTheSameArray(NpyType type, long[] shape)
    {
        var original = Sample(type, shape, "sample");
        byte[] bytes = ToBytes(original);

        // The layout np.save produces: magic, version 1.0, a header padded so the data is 64-byte aligned.
        Assert.That(bytes[..8], Is.EqualTo(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }));
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.That((10 + headerLength) % 64, Is.Zero);
        Assert.That(bytes[10 + headerLength - 1], Is.EqualTo((byte)'\n'));
        Assert.That(bytes.Length - 10 - headerLength, Is.EqualTo(original.Length * ItemSize(type)));

        var back = Npy.Read(new MemoryStream(bytes), "back");
        Assert.That(back.Name, Is.EqualTo("back"));
        Assert.That(back.Type, Is.EqualTo(type));
        Assert.That(back.Shape, Is.EqualTo(shape));
        Assert.That(back.Rank, Is.EqualTo(shape.Length));
        Assert.That(back.Length, Is.EqualTo(original.Length));
        Assert.That(back.Data.GetType(), Is.EqualTo(original.Data.GetType()));
        Assert.That(RawBytes(back.Data), Is.EqualTo(RawBytes(original.Data)), "bit-identical, including NaN, -0 and infinities");
    }

    [Test]
    public void Write_ProducesNumPysExactHeaderText()
    {
        // The header np.save writes for a (13083, 29, 3) float32 array, copied from the QM9 test split.
        var array = new NpyArray("positions", new float[13083 * 29 * 3], [13083, 29, 3]);
        byte[] bytes = ToBytes(array);
        string header = Encoding.ASCII.GetString(bytes, 10, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)));
        Assert.That(header, Is.EqualTo("{'descr': '<f4', 'fortran_order': False, 'shape': (13083, 29, 3), }" + new string(' ', 50) + "\n"));
        Assert.That(Header(ToBytes(new NpyArray("s", new long[] { 7 }, []))), Does.StartWith("{'descr': '<i8', 'fortran_order': False, 'shape': (), }"));
        Assert.That(Header(ToBytes(new NpyArray("v", new bool[3], [3]))), Does.StartWith("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }"));
    }

    [Test]
    public void WriteFile_ThenReadFile_NamesTheArrayAfterTheFile()
    {
        string path = Path.Combine(_directory, "cache.npy");
        var original = Sample(NpyType.Float64, [2, 3], "whatever");
        Npy.WriteFile(path, original);
        var back = Npy.ReadFile(path);
        Assert.That(back.Name, Is.EqualTo("cache.npy"));
        Assert.That(back.ToDoubles(), Is.EqualTo(original.ToDoubles()));
        Assert.That(back.Shape, Is.EqualTo(new long[] { 2, 3 }));
    }

    [Test]
    public void Read_ConsumesExactlyOneArray_SoAppendedArraysReadInTurn()
    {
        var first = new NpyArray("a", new int[] { 1, 2, 3 }, [3]);
        var second = new NpyArray("b", new double[] { 0.5, -0.25 }, [2, 1]);
        byte[] a = ToBytes(first), b = ToBytes(second);
        byte[] joined = [.. a, .. b, 0xAB];

        var seekable = new MemoryStream(joined);
        Assert.That(Npy.Read(seekable, "joined").ToInt32s(), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(seekable.Position, Is.EqualTo(a.Length), "nothing past the first array's declared data is read");
        Assert.That(Npy.Read(seekable, "joined").ToDoubles(), Is.EqualTo(new[] { 0.5, -0.25 }));
        Assert.That(seekable.Position, Is.EqualTo(a.Length + b.Length));

        // The same through a stream that cannot seek (a decompressor or socket), where no length is known up front.
        var forwardOnly = new ForwardOnlyStream(joined);
        Assert.That(Npy.Read(forwardOnly, "joined").ToInt32s(), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(Npy.Read(forwardOnly, "joined").Shape, Is.EqualTo(new long[] { 2, 1 }));
        Assert.That(forwardOnly.ReadByte(), Is.EqualTo(0xAB), "the byte after the second array is still unread");
    }

    // ---------------------------------------------------------------- typed accessors

    [TestCaseSource(nameof(AllTypes))]
    public void Accessors_ConvertEveryType(NpyType type)
    {
        double[] values = type == NpyType.Bool ? [1, 0, 0, 1] : [0, 1, -7, 100];
        if (type == NpyType.UInt8)
        {
            values[2] = 200;
        }

        var array = FromDoubles(type, values);
        Assert.That(array.ToDoubles(), Is.EqualTo(values));
        Assert.That(array.ToSingles(), Is.EqualTo(values.Select(v => (float)v).ToArray()));
        Assert.That(array.ToInt64s(), Is.EqualTo(values.Select(v => (long)v).ToArray()));
        Assert.That(array.ToInt32s(), Is.EqualTo(values.Select(v => (int)v).ToArray()));
    }

    [Test]
    public void Accessors_ReturnCopies()
    {
        var array = new NpyArray("x", new long[] { 1, 2 }, [2]);
        array.ToInt64s()[0] = 99;
        Assert.That(array.ToInt64s(), Is.EqualTo(new long[] { 1, 2 }));
        Assert.That(((long[])array.Data)[0], Is.EqualTo(1));
    }

    [Test]
    public void IntegerAccessors_RefuseValuesTheyCannotHoldExactly()
    {
        Assert.That(() => new NpyArray("f", new[] { 1.0, 2.5 }, [2]).ToInt64s(),
            Throws.TypeOf<InvalidCastException>().With.Message.Contains("'f'").And.Message.Contains("element 1"));
        Assert.That(() => new NpyArray("f", new[] { float.NaN }, [1]).ToInt32s(), Throws.TypeOf<InvalidCastException>());
        Assert.That(() => new NpyArray("f", new[] { 9.3e18 }, [1]).ToInt64s(), Throws.TypeOf<InvalidCastException>());
        Assert.That(() => new NpyArray("f", new[] { 9223372036854775808.0 }, [1]).ToInt64s(), Throws.TypeOf<InvalidCastException>(), "2^63 is one past long.MaxValue");
        Assert.That(() => new NpyArray("l", new[] { 1L + int.MaxValue }, [1]).ToInt32s(), Throws.TypeOf<InvalidCastException>());
        Assert.That(() => new NpyArray("l", new[] { (long)int.MinValue - 1 }, [1]).ToInt32s(), Throws.TypeOf<InvalidCastException>());

        Assert.That(new NpyArray("f", new[] { -2147483648.0, 2147483647.0 }, [2]).ToInt32s(), Is.EqualTo(new[] { int.MinValue, int.MaxValue }));
        Assert.That(new NpyArray("l", new[] { long.MinValue, long.MaxValue }, [2]).ToInt64s(), Is.EqualTo(new[] { long.MinValue, long.MaxValue }));
        Assert.That(new NpyArray("f", new[] { -9223372036854775808.0 }, [1]).ToInt64s(), Is.EqualTo(new[] { long.MinValue }));
    }

    [Test]
    public void Constructor_RejectsShapesThatDoNotMatchTheData()
    {
        Assert.That(() => new NpyArray("x", new double[6], [2, 2]), Throws.ArgumentException.With.Message.Contains("(2, 2)"));
        Assert.That(() => new NpyArray("x", new double[6], []), Throws.ArgumentException, "a scalar holds one element");
        Assert.That(() => new NpyArray("x", new double[0], [-1, 0]), Throws.ArgumentException.With.Message.Contains("negative"));
        Assert.That(new NpyArray("x", new double[1], []).Length, Is.EqualTo(1));
        Assert.That(new NpyArray("x", new double[0], [4, 0, 2]).Length, Is.Zero);
        Assert.That(new NpyArray("pos", new float[6], [2, 3]).ToString(), Is.EqualTo("pos <f4 (2, 3)"));
        // The runtime lets a byte[] pose as an sbyte[]; the array's real element type must still match its NpyType.
        Assert.That(() => new NpyArray("x", (sbyte[])(object)new byte[] { 200 }, [1]), Throws.ArgumentException.With.Message.Contains("Byte[]"));
    }

    // ---------------------------------------------------------------- header variants

    [Test]
    public void Read_AcceptsVersion2Headers()
    {
        // Version 2.0 differs only in a 4-byte header length; a header over 64 KiB is why it exists.
        string header = Dict("'<f8'", "False", "(2, 3)");
        header = header[..^1] + new string(' ', 70_000) + "\n";
        double[] values = [1, 2, 3, 4, 5, 6.5];
        var array = Npy.Read(new MemoryStream(NpyBytes(header, LittleEndian(values), major: 2)), "v2.npy");
        Assert.That(array.Type, Is.EqualTo(NpyType.Float64));
        Assert.That(array.Shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(array.ToDoubles(), Is.EqualTo(values));
    }

    [Test]
    public void Read_AcceptsVersion3Headers()
    {
        var array = Npy.Read(new MemoryStream(NpyBytes(Dict("'<i8'", "False", "(2,)"), LittleEndian(new long[] { -5, 6 }), major: 3)), "v3.npy");
        Assert.That(array.ToInt64s(), Is.EqualTo(new long[] { -5, 6 }));
    }

    [Test]
    public void Read_AcceptsHeadersSpelledDifferentlyFromNumPy()
    {
        // Double quotes, reordered keys, no trailing comma, no padding or newline, and Python 2's 'L' suffix.
        string header = "{\"shape\":(2L,2L),\"fortran_order\":False,\"descr\":\"<i4\"}";
        var array = Npy.Read(new MemoryStream(NpyBytes(header, LittleEndian(new[] { 1, 2, 3, 4 }))), "odd.npy");
        Assert.That(array.Shape, Is.EqualTo(new long[] { 2, 2 }));
        Assert.That(array.ToInt32s(), Is.EqualTo(new[] { 1, 2, 3, 4 }));
    }

    [TestCase(">i2", NpyType.Int16)]
    [TestCase(">i4", NpyType.Int32)]
    [TestCase(">i8", NpyType.Int64)]
    [TestCase(">f4", NpyType.Float32)]
    [TestCase(">f8", NpyType.Float64)]
    public void Read_ConvertsBigEndianData(string descr, NpyType type)
    {
        double[] values = [1, -2, 300, 0.5 * (type is NpyType.Float32 or NpyType.Float64 ? 1 : 0)];
        byte[] data = new byte[values.Length * ItemSize(type)];
        for (int i = 0; i < values.Length; i++)
        {
            var span = data.AsSpan(i * ItemSize(type));
            switch (type)
            {
                case NpyType.Int16: BinaryPrimitives.WriteInt16BigEndian(span, (short)values[i]); break;
                case NpyType.Int32: BinaryPrimitives.WriteInt32BigEndian(span, (int)values[i]); break;
                case NpyType.Int64: BinaryPrimitives.WriteInt64BigEndian(span, (long)values[i]); break;
                case NpyType.Float32: BinaryPrimitives.WriteSingleBigEndian(span, (float)values[i]); break;
                case NpyType.Float64: BinaryPrimitives.WriteDoubleBigEndian(span, values[i]); break;
            }
        }

        var array = Npy.Read(new MemoryStream(NpyBytes(Dict($"'{descr}'", "False", "(4,)"), data)), "big.npy");
        Assert.That(array.Type, Is.EqualTo(type));
        Assert.That(array.ToDoubles(), Is.EqualTo(values));
        // And written back as little-endian.
        Assert.That(Header(ToBytes(array)), Does.Contain("'<" + descr[1..] + "'"));
    }

    [TestCase("=i4", NpyType.Int32)]
    [TestCase("i4", NpyType.Int32)]
    [TestCase("<u1", NpyType.UInt8)]
    [TestCase(">u1", NpyType.UInt8)]
    [TestCase("|i1", NpyType.Int8)]
    [TestCase("?", NpyType.Bool)]
    [TestCase("|b1", NpyType.Bool)]
    public void Read_AcceptsOtherValidByteOrderSpellings(string descr, NpyType type)
    {
        int size = ItemSize(type);
        byte[] data = new byte[2 * size];
        data[0] = 2; // little-endian 2 (or True, for a bool: NumPy treats any nonzero byte as True)
        data[size] = 1;
        var array = Npy.Read(new MemoryStream(NpyBytes(Dict($"'{descr}'", "False", "(2,)"), data)), "spelling.npy");
        Assert.That(array.Type, Is.EqualTo(type));
        Assert.That(array.ToInt64s(), Is.EqualTo(type == NpyType.Bool ? new long[] { 1, 1 } : [2, 1]));
    }

    // ---------------------------------------------------------------- malformed .npy input

    private static IEnumerable<TestCaseData> MalformedArrays()
    {
        static TestCaseData Case(string label, byte[] bytes, params string[] expected) =>
            new TestCaseData(bytes, expected).SetArgDisplayNames(label);

        byte[] good = ToBytes(new NpyArray("g", new double[] { 1, 2, 3, 4 }, [4]));
        int goodHeader = 10 + BinaryPrimitives.ReadUInt16LittleEndian(good.AsSpan(8));

        yield return Case("empty", [], "magic string \\x93NUMPY", "no bytes");
        yield return Case("bad magic", [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'X', .. good[6..]], "magic string \\x93NUMPY", "934E554D5058");
        yield return Case("a PNG", [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 0], "magic string");
        yield return Case("magic only", good[..6], "truncated", "version");
        yield return Case("version 4.0", [.. good[..6], 4, 0, .. good[8..]], "version 4.0", "expected 1.0, 2.0 or 3.0");
        yield return Case("version 1.1", [.. good[..6], 1, 1, .. good[8..]], "version 1.1");
        yield return Case("no header length", good[..9], "truncated", "2-byte header length");
        yield return Case("truncated header", good[..40], "header is truncated", $"expected {goodHeader - 10} header bytes");
        yield return Case("truncated data", good[..(goodHeader + 20)], "data is truncated", "needs 32 bytes", "20 follow");
        yield return Case("header length 4 GiB", [.. good[..6], 2, 0, 0xF0, 0xFF, 0xFF, 0xFF, .. new byte[100]], "header claims", "at most");

        yield return Case("unicode dtype", NpyBytes(Dict("'<U10'", "False", "(2,)"), new byte[80]), "unsupported dtype '<U10'", "unicode", "<f8");
        yield return Case("object dtype", NpyBytes(Dict("'|O'", "False", "(2,)"), new byte[16]), "unsupported dtype '|O'", "pickled", "<f8");
        yield return Case("complex dtype", NpyBytes(Dict("'<c16'", "False", "(1,)"), new byte[16]), "unsupported dtype '<c16'", "complex");
        yield return Case("uint32 dtype", NpyBytes(Dict("'<u4'", "False", "(1,)"), new byte[4]), "unsupported dtype '<u4'");
        yield return Case("float16 dtype", NpyBytes(Dict("'<f2'", "False", "(1,)"), new byte[2]), "unsupported dtype '<f2'");
        yield return Case("structured dtype", NpyBytes(Dict("[('x', '<f4'), ('y', '<f4')]", "False", "(1,)"), new byte[8]), "structured", "[('x', '<f4'), ('y', '<f4')]");
        yield return Case("'|' on int32", NpyBytes(Dict("'|i4'", "False", "(1,)"), new byte[4]), "'|i4'", "byte order", "'<i4' or '>i4'");
        yield return Case("empty descr", NpyBytes(Dict("''", "False", "(1,)"), new byte[4]), "'descr'");

        yield return Case("fortran order", NpyBytes(Dict("'<f8'", "True", "(2, 2)"), new byte[32]), "'fortran_order': True", "only C order");
        yield return Case("fortran order not a bool", NpyBytes(Dict("'<f8'", "'no'", "(1,)"), new byte[8]), "'fortran_order'", "True or False", "'no'");
        yield return Case("no shape key", NpyBytes("{'descr': '<f8', 'fortran_order': False}", new byte[8]), "no 'shape' key");
        yield return Case("no descr key", NpyBytes("{'shape': (1,), 'fortran_order': False}", new byte[8]), "no 'descr' key");
        yield return Case("extra key", NpyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1}", new byte[8]), "unexpected key 'extra'");
        yield return Case("repeated key", NpyBytes("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", new byte[8]), "repeats the key 'descr'");
        yield return Case("negative dimension", NpyBytes(Dict("'<f8'", "False", "(-1,)"), []), "non-negative", "dimension 0 is -1");
        yield return Case("shape not a tuple", NpyBytes(Dict("'<f8'", "False", "(3)"), new byte[24]), "'shape'", "tuple", "found 3");
        yield return Case("shape a list", NpyBytes(Dict("'<f8'", "False", "[3]"), new byte[24]), "'shape'", "tuple");
        yield return Case("string dimension", NpyBytes(Dict("'<f8'", "False", "('a',)"), new byte[8]), "dimension 0 is 'a'");
        yield return Case("dimension too big", NpyBytes(Dict("'<f8'", "False", "(99999999999999999999,)"), []), "99999999999999999999", "64 bits");
        yield return Case("not a dict", NpyBytes("[1, 2]", []), "Python dict");
        yield return Case("garbage header", NpyBytes("hello world", []), "malformed .npy header", "'hello'");
        yield return Case("unclosed dict", NpyBytes("{'descr': '<f8', 'fortran_order': False", []), "malformed .npy header", "ended");
        yield return Case("unclosed string", NpyBytes("{'descr: <f8}", []), "malformed .npy header", "not closed");
        yield return Case("text after dict", NpyBytes(Dict("'<f8'", "False", "(1,)")[..^1] + " x\n", new byte[8]), "unexpected text after the header dict");
        yield return Case("empty header", NpyBytes("", []), "malformed .npy header");
        yield return Case("bad UTF-8 in v3", NpyBytes("{'descr': '\xff'}", [], major: 3, latin1: true), "UTF-8");

        // Sizes beyond what a .NET array (or a 64-bit count) can hold: refused from the header alone, nothing allocated.
        yield return Case("3e9 elements", NpyBytes(Dict("'|u1'", "False", "(3000000000,)"), new byte[16]), "3000000000 elements", $"at most {Array.MaxLength}");
        yield return Case("element count overflow", NpyBytes(Dict("'<f8'", "False", "(4294967296, 4294967296, 4294967296)"), []), "64-bit count");
        yield return Case("byte count overflow", NpyBytes(Dict("'<f8'", "False", "(2305843009213693952,)"), []), "64-bit size");
        yield return Case("2.4 GB declared, 16 bytes present", NpyBytes(Dict("'<f8'", "False", "(300000000,)"), new byte[16]), "data is truncated", "needs 2400000000 bytes", "16 follow");
    }

    [TestCaseSource(nameof(MalformedArrays))]
    public void Read_RejectsMalformedInput_NamingTheSource(byte[] bytes, string[] expected)
    {
        var error = Assert.Throws<InvalidDataException>(() => Npy.Read(new MemoryStream(bytes), "broken.npy"))!;
        Assert.That(error.Message, Does.StartWith("broken.npy: "));
        foreach (string fragment in expected)
        {
            Assert.That(error.Message, Does.Contain(fragment));
        }
    }

    [Test]
    public void Read_ReportsTruncationFromAStreamThatCannotSeek()
    {
        byte[] good = ToBytes(new NpyArray("g", new double[] { 1, 2, 3, 4 }, [4]));
        var error = Assert.Throws<InvalidDataException>(() => Npy.Read(new ForwardOnlyStream(good[..^3]), "pipe"))!;
        Assert.That(error.Message, Does.StartWith("pipe: ").And.Contain("needs 32 bytes").And.Contain("ends after 29"));

        byte[] bools = ToBytes(new NpyArray("b", new bool[10], [10]));
        Assert.That(() => Npy.Read(new ForwardOnlyStream(bools[..^1]), "pipe"),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("ends after 9"));
    }

    [Test]
    public void ReadFile_RejectsDataThatDoesNotMatchTheShape_NamingTheFile()
    {
        byte[] good = ToBytes(new NpyArray("g", new int[] { 1, 2, 3 }, [3]));
        string longer = Path.Combine(_directory, "longer.npy");
        File.WriteAllBytes(longer, [.. good, 0, 0, 0, 0]);
        Assert.That(() => Npy.ReadFile(longer), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(longer + ": ").And.Message.Contains("longer than declared").And.Message.Contains("(3,) of <i4 needs 12 bytes but 16 follow"));

        string shorter = Path.Combine(_directory, "shorter.npy");
        File.WriteAllBytes(shorter, good[..^1]);
        Assert.That(() => Npy.ReadFile(shorter), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(shorter + ": ").And.Message.Contains("truncated").And.Message.Contains("needs 12 bytes but 11 follow"));

        string notNpy = Path.Combine(_directory, "notes.npy");
        File.WriteAllText(notNpy, "just some text");
        Assert.That(() => Npy.ReadFile(notNpy), Throws.TypeOf<InvalidDataException>().With.Message.StartsWith(notNpy + ": ").And.Message.Contains("magic"));
    }

    // ---------------------------------------------------------------- .npz

    [TestCase(false, 0, TestName = "Npz_RoundTrip(stored)")]
    [TestCase(true, 8, TestName = "Npz_RoundTrip(deflated)")]
    public void Npz_RoundTrip(bool compress, int expectedMethod)
    {
        var arrays = new[]
        {
            Sample(NpyType.Int64, [5, 2], "charges"),
            Sample(NpyType.Float32, [5, 2, 3], "positions"),
            Sample(NpyType.Bool, [], "flag"),
            Sample(NpyType.UInt8, [0], "empty"),
        };
        string path = Path.Combine(_directory, compress ? "deflated.npz" : "stored.npz");
        Npy.WriteNpzFile(path, arrays, compress);

        var methods = CompressionMethods(File.ReadAllBytes(path));
        Assert.That(methods.Keys, Is.EquivalentTo(new[] { "charges.npy", "positions.npy", "flag.npy", "empty.npy" }));
        Assert.That(methods.Values, Is.All.EqualTo(expectedMethod), "0 = stored (np.savez), 8 = deflate (np.savez_compressed)");

        var all = Npy.ReadNpz(path);
        Assert.That(all.Keys, Is.EquivalentTo(arrays.Select(a => a.Name)));
        foreach (var original in arrays)
        {
            var read = all[original.Name];
            Assert.That(read.Name, Is.EqualTo(original.Name));
            Assert.That(read.Type, Is.EqualTo(original.Type));
            Assert.That(read.Shape, Is.EqualTo(original.Shape));
            Assert.That(RawBytes(read.Data), Is.EqualTo(RawBytes(original.Data)));

            var member = Npy.ReadNpzMember(path, original.Name);
            Assert.That(RawBytes(member.Data), Is.EqualTo(RawBytes(original.Data)));
            Assert.That(member.Name, Is.EqualTo(original.Name));
            Assert.That(Npy.ReadNpzMember(path, original.Name + ".npy").Shape, Is.EqualTo(original.Shape), "the .npy suffix is optional");
        }

        using var stream = File.OpenRead(path);
        Assert.That(Npy.ReadNpz(stream, "in-memory").Keys, Is.EquivalentTo(arrays.Select(a => a.Name)));
        stream.Position = 0;
        Assert.That(Npy.ReadNpzMember(stream, "in-memory", "positions").ToSingles(), Is.EqualTo(arrays[1].ToSingles()));
    }

    [Test]
    public void ReadNpz_SkipsMembersThatAreNotArrays()
    {
        string path = BuildZip("mixed.npz", ("a.npy", ToBytes(new NpyArray("a", new short[] { 3 }, [1])), true), ("README.txt", "hi"u8.ToArray(), true));
        Assert.That(Npy.ReadNpz(path).Keys, Is.EquivalentTo(new[] { "a" }));
        Assert.That(() => Npy.ReadNpzMember(path, "README.txt"), Throws.TypeOf<InvalidDataException>().With.Message.Contains("no member"));
    }

    [Test]
    public void ReadNpzMember_MissingMember_NamesTheFileAndWhatIsThere()
    {
        string path = BuildZip("few.npz", ("alpha.npy", ToBytes(Sample(NpyType.Float64, [2], "alpha")), true),
            ("beta.npy", ToBytes(Sample(NpyType.Float64, [2], "beta")), false));
        var error = Assert.Throws<InvalidDataException>(() => Npy.ReadNpzMember(path, "gamma"))!;
        Assert.That(error.Message, Does.StartWith(path + ": "));
        Assert.That(error.Message, Does.Contain("no member 'gamma.npy'"));
        Assert.That(error.Message, Does.Contain("alpha, beta"));
    }

    [Test]
    public void ReadNpzMember_DecompressesOnlyTheRequestedMember()
    {
        // A broken neighbour must not matter when only the good member is asked for, but must be named when all are read.
        string path = BuildZip("half-broken.npz", ("good.npy", ToBytes(Sample(NpyType.Int32, [3], "good")), true),
            ("bad.npy", "definitely not an array"u8.ToArray(), true));
        Assert.That(Npy.ReadNpzMember(path, "good").ToInt32s(), Is.EqualTo(Sample(NpyType.Int32, [3], "good").ToInt32s()));
        Assert.That(() => Npy.ReadNpz(path), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith($"{path}, member 'bad.npy': ").And.Message.Contains("magic"));
    }

    private static IEnumerable<TestCaseData> MalformedMembers()
    {
        byte[] good = ToBytes(new NpyArray("m", new float[] { 1, 2, 3, 4 }, [2, 2]));
        foreach (bool compress in new[] { false, true })
        {
            string kind = compress ? "deflated" : "stored";
            yield return new TestCaseData(good[..^4], compress, new[] { "data is truncated", "needs 16 bytes but 12 follow" }).SetArgDisplayNames($"truncated, {kind}");
            yield return new TestCaseData((byte[])[.. good, 9, 9], compress, new[] { "longer than declared", "needs 16 bytes but 18 follow" }).SetArgDisplayNames($"too long, {kind}");
            yield return new TestCaseData(good[..20], compress, new[] { "header is truncated" }).SetArgDisplayNames($"header cut, {kind}");
            yield return new TestCaseData(NpyBytes(Dict("'<U10'", "False", "(1,)"), new byte[40]), compress, new[] { "unsupported dtype '<U10'" }).SetArgDisplayNames($"unicode, {kind}");
            yield return new TestCaseData(NpyBytes(Dict("'<f4'", "True", "(2, 2)"), new byte[16]), compress, new[] { "fortran_order" }).SetArgDisplayNames($"fortran, {kind}");
        }
    }

    [TestCaseSource(nameof(MalformedMembers))]
    public void ReadNpz_RejectsMalformedMembers_NamingFileAndMember(byte[] member, bool compress, string[] expected)
    {
        string path = BuildZip("bad.npz", ("x.npy", member, compress));
        foreach (var read in new Func<object>[] { () => Npy.ReadNpz(path), () => Npy.ReadNpzMember(path, "x") })
        {
            var error = Assert.Throws<InvalidDataException>(() => read())!;
            Assert.That(error.Message, Does.StartWith($"{path}, member 'x.npy': "));
            foreach (string fragment in expected)
            {
                Assert.That(error.Message, Does.Contain(fragment));
            }
        }
    }

    [Test]
    public void ReadNpz_RejectsFilesThatAreNotZipArchives()
    {
        string npyInstead = Path.Combine(_directory, "really.npz");
        Npy.WriteFile(npyInstead, Sample(NpyType.Float64, [3], "x"));
        Assert.That(() => Npy.ReadNpz(npyInstead), Throws.TypeOf<InvalidDataException>()
            .With.Message.StartsWith(npyInstead + ": ").And.Message.Contains("expected an .npz (zip) archive"));
        Assert.That(() => Npy.ReadNpzMember(npyInstead, "x"), Throws.TypeOf<InvalidDataException>().With.Message.StartsWith(npyInstead + ": "));

        string cut = Path.Combine(_directory, "cut.npz");
        Npy.WriteNpzFile(cut, [Sample(NpyType.Float64, [100], "x")]);
        byte[] whole = File.ReadAllBytes(cut);
        File.WriteAllBytes(cut, whole[..(whole.Length / 2)]);
        Assert.That(() => Npy.ReadNpz(cut), Throws.TypeOf<InvalidDataException>().With.Message.StartsWith(cut + ": "));
    }

    [Test]
    public void ReadNpz_RejectsCorruptDeflateData_NamingTheMember()
    {
        string path = Path.Combine(_directory, "corrupt.npz");
        Npy.WriteNpzFile(path, [Sample(NpyType.Float64, [64], "a")], compress: true);
        byte[] bytes = File.ReadAllBytes(path);
        // The first local header is at 0; its data follows the 30 fixed bytes, the name and the extra field.
        int dataStart = 30 + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(26)) + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(28));
        bytes[dataStart] = 0xFF; // a final block of the reserved type 3: invalid from the first bit
        File.WriteAllBytes(path, bytes);
        Assert.That(() => Npy.ReadNpzMember(path, "a"), Throws.TypeOf<InvalidDataException>().With.Message.StartsWith($"{path}, member 'a.npy': "));
    }

    [Test]
    public void ReadNpz_RejectsRepeatedMemberNames()
    {
        byte[] member = ToBytes(Sample(NpyType.Int8, [2], "d"));
        string path = BuildZip("twice.npz", ("d.npy", member, true), ("d.npy", member, true));
        Assert.That(() => Npy.ReadNpz(path), Throws.TypeOf<InvalidDataException>().With.Message.StartsWith(path + ": ").And.Message.Contains("more than one member named 'd.npy'"));
        Assert.That(() => Npy.ReadNpzMember(path, "d"), Throws.TypeOf<InvalidDataException>().With.Message.Contains("2 members named 'd.npy'"));
    }

    [Test]
    public void WriteNpz_RejectsRepeatedNames()
    {
        Assert.That(() => Npy.WriteNpz(new MemoryStream(), [Sample(NpyType.Int8, [1], "a"), Sample(NpyType.Int8, [1], "a")]),
            Throws.ArgumentException.With.Message.Contains("'a'"));
    }

    // ---------------------------------------------------------------- the real QM9 test split

    private const string Qm9TestSplit = "qm9/lieconv_npz/test.npz";
    private const int Molecules = 13083;

    [Test]
    public void Qm9TestSplit_HasTheDocumentedArrays()
    {
        string path = TestData.RequireSharedFile(Qm9TestSplit);
        var arrays = Npy.ReadNpz(path);

        string[] properties = ["A", "B", "C", "mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "Cv", "omega1"];
        string[] thermo = ["zpve_thermo", "U0_thermo", "U_thermo", "H_thermo", "G_thermo", "Cv_thermo"];
        Assert.That(arrays.Keys, Is.EquivalentTo(new[] { "num_atoms", "charges", "positions", "index" }.Concat(properties).Concat(thermo)));
        foreach (string key in properties.Concat(thermo))
        {
            Assert.That(arrays[key].Type, Is.EqualTo(thermo.Contains(key) ? NpyType.Float64 : NpyType.Float32), key);
            Assert.That(arrays[key].Shape, Is.EqualTo(new long[] { Molecules }), key);
        }

        var charges = arrays["charges"];
        Assert.That(charges.Type, Is.EqualTo(NpyType.Int64));
        Assert.That(charges.Shape, Is.EqualTo(new long[] { Molecules, 29 }));
        var positions = arrays["positions"];
        Assert.That(positions.Type, Is.EqualTo(NpyType.Float32));
        Assert.That(positions.Shape, Is.EqualTo(new long[] { Molecules, 29, 3 }));
        Assert.That(arrays["homo"].Shape, Is.EqualTo(new long[] { Molecules }));
        Assert.That(arrays["num_atoms"].Type, Is.EqualTo(NpyType.Int64));

        long[] z = charges.ToInt64s();
        long[] numAtoms = arrays["num_atoms"].ToInt64s();
        float[] xyz = positions.ToSingles();
        Assert.That(z.Max(), Is.EqualTo(9), "fluorine is the heaviest element");
        Assert.That(z.Min(), Is.EqualTo(0), "0 pads molecules with fewer than 29 atoms");
        Assert.That(z.Distinct().Order(), Is.EqualTo(new long[] { 0, 1, 6, 7, 8, 9 }), "H, C, N, O, F and padding");
        Assert.That(z.Count(c => c == 9), Is.EqualTo(332));
        Assert.That(numAtoms.Min(), Is.EqualTo(7));
        Assert.That(numAtoms.Max(), Is.EqualTo(29));
        Assert.That(numAtoms.Sum(), Is.EqualTo(235_883));
        for (int m = 0; m < Molecules; m++)
        {
            var row = z.AsSpan(m * 29, 29);
            int nonzero = 0;
            for (int a = 0; a < 29; a++)
            {
                if (row[a] != 0)
                {
                    nonzero++;
                }
                else if (xyz[(m * 29 + a) * 3] != 0 || xyz[(m * 29 + a) * 3 + 1] != 0 || xyz[(m * 29 + a) * 3 + 2] != 0)
                {
                    Assert.Fail($"molecule {m}, padding atom {a} has nonzero coordinates");
                }
            }

            if (nonzero != numAtoms[m])
            {
                Assert.Fail($"molecule {m}: num_atoms = {numAtoms[m]} but {nonzero} charges are nonzero");
            }

            // Atoms come first and padding after, so a batch can crop to the largest molecule.
            Assert.That(row[..nonzero].ToArray(), Is.All.GreaterThan(0), $"molecule {m}");
        }

        // The first molecule (GDB index 11, acetaldehyde CH3CHO).
        Assert.That(z[..29], Is.EqualTo(new long[] { 6, 6, 8, 1, 1, 1, 1 }.Concat(Enumerable.Repeat(0L, 22))));
        Assert.That(xyz[..3], Is.EqualTo(new[] { -0.002944821259006858f, 1.509913682937622f, 0.008672785013914108f }));
        Assert.That(arrays["homo"].ToSingles()[0], Is.EqualTo(-0.254f));
        Assert.That(arrays["U0"].ToDoubles()[0], Is.EqualTo(-153.78761291503906).Within(1e-9));

        long[] index = arrays["index"].ToInt64s();
        Assert.That(index[0], Is.EqualTo(11));
        Assert.That(index[^1], Is.EqualTo(133_850));
        Assert.That(index, Is.Ordered.Ascending);
        Assert.That(arrays["zpve_thermo"].ToDoubles(), Is.All.Zero);
    }

    [Test]
    public void Qm9TestSplit_MembersReadAloneMatch_AndRewriteByteForByte()
    {
        string path = TestData.RequireSharedFile(Qm9TestSplit);
        var all = Npy.ReadNpz(path);
        using var archive = ZipFile.OpenRead(path);
        foreach (string key in new[] { "charges", "positions", "num_atoms", "homo", "U0_thermo" })
        {
            var member = Npy.ReadNpzMember(path, key);
            Assert.That(RawBytes(member.Data), Is.EqualTo(RawBytes(all[key].Data)), key);

            // np.savez_compressed's member bytes are exactly what Npy.Write produces for the same array.
            using var original = new MemoryStream();
            using (var entry = archive.GetEntry(key + ".npy")!.Open())
            {
                entry.CopyTo(original);
            }

            Assert.That(ToBytes(member), Is.EqualTo(original.ToArray()), key);
        }
    }

    // ---------------------------------------------------------------- helpers

    private static string NpyArrayShape(long[] shape) => shape.Length switch
    {
        0 => "()",
        1 => $"({shape[0]},)",
        _ => "(" + string.Join(", ", shape) + ")",
    };

    private static int ItemSize(NpyType type) => type switch
    {
        NpyType.Bool or NpyType.Int8 or NpyType.UInt8 => 1,
        NpyType.Int16 => 2,
        NpyType.Int32 or NpyType.Float32 => 4,
        _ => 8,
    };

    /// <summary>An array of <paramref name="type"/> cycling through that type's awkward values (extremes, NaN, -0, ...).</summary>
    private static NpyArray Sample(NpyType type, long[] shape, string name)
    {
        int n = (int)shape.Aggregate(1L, (a, b) => a * b);
        T[] Cycle<T>(params T[] values) => Enumerable.Range(0, n).Select(i => values[i % values.Length]).ToArray();
        return type switch
        {
            NpyType.Bool => new NpyArray(name, Cycle(true, false, false), shape),
            NpyType.Int8 => new NpyArray(name, Cycle<sbyte>(sbyte.MinValue, -1, 0, 1, 42, sbyte.MaxValue), shape),
            NpyType.UInt8 => new NpyArray(name, Cycle<byte>(0, 1, 128, byte.MaxValue, 7), shape),
            NpyType.Int16 => new NpyArray(name, Cycle<short>(short.MinValue, -1, 0, 1, 1000, short.MaxValue), shape),
            NpyType.Int32 => new NpyArray(name, Cycle(int.MinValue, -1, 0, 1, 123456, int.MaxValue), shape),
            NpyType.Int64 => new NpyArray(name, Cycle(long.MinValue, -1, 0, 1, 1L << 40, long.MaxValue), shape),
            NpyType.Float32 => new NpyArray(name, Cycle(float.MinValue, -0f, 0f, float.Epsilon, 1.5f, float.NaN, float.PositiveInfinity, float.MaxValue, 3.14159f), shape),
            NpyType.Float64 => new NpyArray(name, Cycle(double.MinValue, -0d, 0d, double.Epsilon, 1.5, double.NaN, double.NegativeInfinity, double.MaxValue, Math.PI), shape),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }

    private static NpyArray FromDoubles(NpyType type, double[] values) => type switch
    {
        NpyType.Bool => new NpyArray("v", values.Select(v => v != 0).ToArray(), [values.Length]),
        NpyType.Int8 => new NpyArray("v", values.Select(v => (sbyte)v).ToArray(), [values.Length]),
        NpyType.UInt8 => new NpyArray("v", values.Select(v => (byte)v).ToArray(), [values.Length]),
        NpyType.Int16 => new NpyArray("v", values.Select(v => (short)v).ToArray(), [values.Length]),
        NpyType.Int32 => new NpyArray("v", values.Select(v => (int)v).ToArray(), [values.Length]),
        NpyType.Int64 => new NpyArray("v", values.Select(v => (long)v).ToArray(), [values.Length]),
        NpyType.Float32 => new NpyArray("v", values.Select(v => (float)v).ToArray(), [values.Length]),
        NpyType.Float64 => new NpyArray("v", values.ToArray(), [values.Length]),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static byte[] ToBytes(NpyArray array)
    {
        using var stream = new MemoryStream();
        Npy.Write(stream, array);
        return stream.ToArray();
    }

    private static string Header(byte[] npy) => Encoding.ASCII.GetString(npy, 10, BinaryPrimitives.ReadUInt16LittleEndian(npy.AsSpan(8)));

    private static byte[] RawBytes(Array data)
    {
        var bytes = new byte[Buffer.ByteLength(data)];
        Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    /// <summary>A header dict as NumPy spells it, padded to a 64-byte boundary; the values are Python source text.</summary>
    private static string Dict(string descr, string fortranOrder, string shape)
    {
        string dict = $"{{'descr': {descr}, 'fortran_order': {fortranOrder}, 'shape': {shape}, }}";
        int total = (10 + dict.Length + 1 + 63) / 64 * 64;
        return dict + new string(' ', total - 10 - dict.Length - 1) + "\n";
    }

    /// <summary>Hand-assembles an .npy: magic, version, header length (2 bytes for 1.0, 4 otherwise), header, data.</summary>
    private static byte[] NpyBytes(string header, byte[] data, int major = 1, bool latin1 = false)
    {
        byte[] headerBytes = latin1 ? Encoding.Latin1.GetBytes(header) : Encoding.UTF8.GetBytes(header);
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0 };
        var length = new byte[major == 1 ? 2 : 4];
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)headerBytes.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)headerBytes.Length);
        }

        bytes.AddRange(length);
        bytes.AddRange(headerBytes);
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    private static byte[] LittleEndian(double[] values) => values.SelectMany(v => { var b = new byte[8]; BinaryPrimitives.WriteDoubleLittleEndian(b, v); return b; }).ToArray();

    private static byte[] LittleEndian(long[] values) => values.SelectMany(v => { var b = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); return b; }).ToArray();

    private static byte[] LittleEndian(int[] values) => values.SelectMany(v => { var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); return b; }).ToArray();

    /// <summary>Builds an archive member by member (bypassing Npy.WriteNpz) so members can be malformed or repeated.</summary>
    private string BuildZip(string fileName, params (string Name, byte[] Content, bool Compress)[] members)
    {
        string path = Path.Combine(_directory, fileName);
        using (var archive = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            foreach (var (name, content, compress) in members)
            {
                var entry = archive.CreateEntry(name, compress ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
                using var stream = entry.Open();
                stream.Write(content);
            }
        }

        // Make sure both zip storage methods really are exercised: 0 = stored (np.savez), 8 = deflate (np.savez_compressed).
        Assert.That(CompressionMethodList(File.ReadAllBytes(path)).Select(p => p.Value), Is.EqualTo(members.Select(m => m.Compress ? 8 : 0)));
        return path;
    }

    /// <summary>Each member's compression method (0 stored, 8 deflate), read from the zip's central directory.</summary>
    private static List<KeyValuePair<string, int>> CompressionMethodList(byte[] zip)
    {
        int end = zip.Length - 22;
        while (end >= 0 && BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(end)) != 0x06054b50)
        {
            end--;
        }

        Assert.That(end, Is.GreaterThanOrEqualTo(0), "end of central directory record");
        int count = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(end + 10));
        int offset = (int)BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(end + 16));
        var methods = new List<KeyValuePair<string, int>>();
        for (int i = 0; i < count; i++)
        {
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(offset)), Is.EqualTo(0x02014b50u), "central directory header");
            int method = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(offset + 10));
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(offset + 28));
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(offset + 30));
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(offset + 32));
            methods.Add(new(Encoding.UTF8.GetString(zip, offset + 46, nameLength), method));
            offset += 46 + nameLength + extraLength + commentLength;
        }

        return methods;
    }

    private static Dictionary<string, int> CompressionMethods(byte[] zip) =>
        CompressionMethodList(zip).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.First().Value);

    /// <summary>A read-only stream that cannot seek or report its length, like a decompressor or a pipe.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        // Hands out at most 7 bytes per call so that the reader's looping over short reads is exercised too.
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));

        public override int Read(Span<byte> buffer) => _inner.Read(buffer[..Math.Min(buffer.Length, 7)]);

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
