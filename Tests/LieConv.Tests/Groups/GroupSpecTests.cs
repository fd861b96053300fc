using LieConv.Groups;
using NUnit.Framework;

namespace LieConv.Tests.Groups;

[TestFixture]
public class GroupSpecTests
{
    [TestCase("Trivial(2)", typeof(Trivial), 0, 2, 2, 0.2)]
    [TestCase("Trivial(3)", typeof(Trivial), 0, 3, 3, 0.2)]
    [TestCase("T(2)", typeof(Translations), 2, 3, 0, 0.2)]
    [TestCase("T(3)", typeof(Translations), 3, 4, 0, 0.2)]
    [TestCase("Tx(2)", typeof(Subgroup), 1, 3, 1, 0.2)]
    [TestCase("Ty(2)", typeof(Subgroup), 1, 3, 1, 0.2)]
    [TestCase("Rx(.1)", typeof(Subgroup), 1, 2, 1, 0.1)]
    [TestCase("SO2(.2)", typeof(SO2), 1, 2, 1, 0.2)]
    [TestCase("SO2()", typeof(SO2), 1, 2, 1, 0.2)]
    [TestCase("RxSO2(.3)", typeof(RxSO2), 2, 2, 0, 0.3)]
    [TestCase("SE2(.05)", typeof(SE2), 3, 3, 0, 0.05)]
    [TestCase("SO3(.2)", typeof(SO3), 3, 3, 1, 0.2)]
    [TestCase("SE3(.2)", typeof(SE3), 6, 4, 0, 0.2)]
    [TestCase(" SE3( 0.2 , per_point=False ) ", typeof(SE3), 6, 4, 0, 0.2)]
    [TestCase("SE2(alpha=1/2)", typeof(SE2), 3, 3, 0, 0.5)]
    public void Parse_ReadsTheOriginalSpellings(string spec, Type type, int lieDim, int repDim, int qDim, double alpha)
    {
        var group = LieGroup.Parse(spec);
        Assert.That(group, Is.TypeOf(type));
        Assert.That((group.LieDim, group.RepDim, group.QDim), Is.EqualTo((lieDim, repDim, qDim)));
        Assert.That(group.Alpha, Is.EqualTo(alpha).Within(1e-15));

        var again = LieGroup.Parse(group.ToString());
        Assert.That(again.ToString(), Is.EqualTo(group.ToString()));
        Assert.That((again.GetType(), again.LieDim, again.QDim, again.Alpha), Is.EqualTo((group.GetType(), group.LieDim, group.QDim, group.Alpha)));
    }

    [Test]
    public void ToString_RoundTripsEveryNonDefaultSetting()
    {
        foreach (var group in new LieGroup[] { new SE3(0.3, perPointLift: false), new Translations(3, 0.4), Subgroup.Rx(1.0 / 3), new SE2(0.05), new Trivial(5) })
        {
            var again = LieGroup.Parse(group.ToString());
            Assert.That(again.ToString(), Is.EqualTo(group.ToString()));
            Assert.That(again.Alpha, Is.EqualTo(group.Alpha));
        }
        Assert.That(((SE3)LieGroup.Parse(new SE3(0.3, false).ToString())).PerPointLift, Is.False);
    }

    [TestCase("SE4(1)", "unknown group 'SE4'")]
    [TestCase("SO2(abc)", "'abc' is not a number")]
    [TestCase("T()", "missing argument 'd'")]
    [TestCase("SE2(.05", "expected Name(arguments)")]
    [TestCase("", "expected Name(arguments)")]
    [TestCase("SO2(.2, .3)", "too many arguments")]
    [TestCase("SO2(beta=.3)", "unknown argument 'beta'")]
    [TestCase("SO2(2)", "alpha")]
    [TestCase("T(0)", "dimension")]
    [TestCase("SE3(.2, per_point=maybe)", "True or False")]
    public void Parse_RejectsBadSpecs_NamingTheSpecAndTheValidGroups(string spec, string problem)
    {
        var ex = Assert.Throws<FormatException>(() => LieGroup.Parse(spec));
        Assert.That(ex!.Message, Does.Contain($"'{spec}'").And.Contain(problem).And.Contain("Valid groups:").And.Contain("SE2(alpha = .2)").And.Contain("Trivial(d = 2)"));
    }
}
