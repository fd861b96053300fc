using System.Globalization;
using System.Text.RegularExpressions;

namespace LieConv.Groups;

/// <summary>
/// Reads group specs as the original commands spell them (<c>T(2)</c>, <c>SE2(.05)</c>, <c>SO2()</c>,
/// <c>SE3(.2, per_point=False)</c>, <c>alpha=.3</c> as a keyword): the format of <see cref="LieGroup.ToString"/>.
/// </summary>
internal static partial class GroupSpec
{
    private sealed record Entry(string Name, string Usage, Func<GroupSpecArguments, LieGroup> Create);

    private static readonly object RegistryLock = new();

    private static Entry[] Groups =
    {
        new("Trivial", "Trivial(d = 2)", a => new Trivial(a.Int(0, "d", 2))),
        new("T", "T(d)", a => new Translations(a.Int(0, "d"), a.Double(1, "alpha", LieGroup.DefaultAlpha))),
        new("Tx", "Tx(d = 2)", a => Subgroup.Tx(a.Int(0, "d", 2))),
        new("Ty", "Ty(d = 2)", a => Subgroup.Ty(a.Int(0, "d", 2))),
        new("Rx", "Rx(alpha = .2)", a => Subgroup.Rx(a.Double(0, "alpha", LieGroup.DefaultAlpha))),
        new("SO2", "SO2(alpha = .2)", a => new SO2(a.Double(0, "alpha", LieGroup.DefaultAlpha))),
        new("RxSO2", "RxSO2(alpha = .2)", a => new RxSO2(a.Double(0, "alpha", LieGroup.DefaultAlpha))),
        new("SE2", "SE2(alpha = .2)", a => new SE2(a.Double(0, "alpha", LieGroup.DefaultAlpha))),
        new("SO3", "SO3(alpha = .2)", a => new SO3(a.Double(0, "alpha", LieGroup.DefaultAlpha))),
        new("SE3", "SE3(alpha = .2, per_point = True)", a => new SE3(a.Double(0, "alpha", LieGroup.DefaultAlpha), a.Bool(1, "per_point", true))),
    };

    /// <summary>The accepted forms, for error messages and help texts.</summary>
    public static string ValidGroups => string.Join(", ", Groups.Select(g => g.Usage));

    public static void Register(string name, string usage, Func<GroupSpecArguments, LieGroup> create)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!NamePattern().IsMatch(name))
            throw new ArgumentException($"'{name}' is not a valid group name: use letters and digits, starting with a letter.", nameof(name));
        ArgumentException.ThrowIfNullOrWhiteSpace(usage);
        ArgumentNullException.ThrowIfNull(create);
        lock (RegistryLock)
        {
            if (Groups.Any(g => g.Name == name))
                throw new ArgumentException($"A group named '{name}' is already registered.", nameof(name));
            Groups = Groups.Append(new Entry(name, usage, create)).ToArray();
        }
    }

    public static LieGroup Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var match = SpecPattern().Match(spec);
        if (!match.Success)
            throw Error(spec, "expected Name(arguments)");
        var entry = Groups.FirstOrDefault(g => g.Name == match.Groups["name"].Value)
            ?? throw Error(spec, $"unknown group '{match.Groups["name"].Value}'");
        try
        {
            var arguments = new GroupSpecArguments(match.Groups["args"].Value);
            var group = entry.Create(arguments);
            arguments.CheckAllUsed();
            return group;
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw Error(spec, $"{e.Message} (usage: {entry.Usage})", e);
        }
    }

    private static FormatException Error(string spec, string problem, Exception? inner = null) =>
        new($"'{spec}' is not a valid group spec: {problem}. Valid groups: {ValidGroups}.", inner);

    [GeneratedRegex(@"^\s*(?<name>[A-Za-z][A-Za-z0-9]*)\s*\((?<args>[^()]*)\)\s*$")]
    private static partial Regex SpecPattern();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9]*$")]
    private static partial Regex NamePattern();
}

/// <summary>The arguments of a group spec, positional then keyword as in a Python call: <c>SE3(.2, per_point=False)</c>.</summary>
public sealed class GroupSpecArguments
{
    private readonly List<string> _positional = new();
    private readonly Dictionary<string, string> _named = new();
    private readonly HashSet<string> _used = new();
    private int _positionalUsed;

    internal GroupSpecArguments(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return;
        foreach (var raw in text.Split(','))
        {
            var part = raw.Trim();
            if (part.Length == 0) throw new FormatException("empty argument");
            int eq = part.IndexOf('=');
            if (eq < 0)
            {
                if (_named.Count > 0) throw new FormatException($"positional argument '{part}' after a keyword argument");
                _positional.Add(part);
            }
            else if (!_named.TryAdd(part[..eq].Trim(), part[(eq + 1)..].Trim()))
                throw new FormatException($"argument '{part[..eq].Trim()}' given twice");
        }
    }

    /// <summary>An integer argument given at <paramref name="position"/> or as <paramref name="name"/>=…; <paramref name="fallback"/> when absent (required when null).</summary>
    public int Int(int position, string name, int? fallback = null)
    {
        var text = Take(position, name);
        if (text is null) return fallback ?? throw new FormatException($"missing argument '{name}'");
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value : throw new FormatException($"'{text}' is not an integer for '{name}'");
    }

    /// <summary>A number (decimal or a/b) given at <paramref name="position"/> or as <paramref name="name"/>=…; <paramref name="fallback"/> when absent.</summary>
    public double Double(int position, string name, double fallback)
    {
        var text = Take(position, name);
        if (text is null) return fallback;
        var slash = text.Split('/');
        if (slash.Length <= 2 && slash.All(IsNumber))
            return slash.Length == 1 ? Number(slash[0]) : Number(slash[0]) / Number(slash[1]);
        throw new FormatException($"'{text}' is not a number for '{name}'");

        static bool IsNumber(string s) => double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v);
        static double Number(string s) => double.Parse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>True or False given at <paramref name="position"/> or as <paramref name="name"/>=…; <paramref name="fallback"/> when absent.</summary>
    public bool Bool(int position, string name, bool fallback) => Take(position, name) switch
    {
        null => fallback,
        "True" or "true" => true,
        "False" or "false" => false,
        var text => throw new FormatException($"'{text}' is not True or False for '{name}'"),
    };

    internal void CheckAllUsed()
    {
        if (_positional.Count > _positionalUsed)
            throw new FormatException($"too many arguments ({_positional.Count})");
        var unknown = _named.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new FormatException($"unknown argument '{unknown[0]}'");
    }

    private string? Take(int position, string name)
    {
        if (position < _positional.Count)
        {
            if (_named.ContainsKey(name)) throw new FormatException($"argument '{name}' given twice");
            _positionalUsed = Math.Max(_positionalUsed, position + 1);
            return _positional[position];
        }
        if (_named.TryGetValue(name, out var value)) { _used.Add(name); return value; }
        return null;
    }
}
