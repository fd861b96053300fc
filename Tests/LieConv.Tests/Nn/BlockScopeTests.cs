using LieConv.Groups;
using LieConv.Nn;
using LieConv.Runtime;
using NUnit.Framework;
using static TorchSharp.torch;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Nn;

/// <summary>
/// A bottleneck block frees what it makes and does not pass on when it returns: the caller's dispose scope receives
/// only the output cloud's tensors (what later layers reuse included), and the backward pass still has all it needs.
/// </summary>
[TestFixture]
public class BlockScopeTests : SingleThreadedFixture
{
    private static IEnumerable<TestCaseData> Cases()
    {
        // kNN keeps its neighbourhood (Nearest, with its lazily made indices); SE(3) balls keep the distance table;
        // clouds sharing their points (an image grid) keep shared candidates and each cloud's choice among them.
        yield return new TestCaseData("T(3)", true, false).SetArgDisplayNames("T(3) kNN");
        yield return new TestCaseData("SE3(.2)", false, false).SetArgDisplayNames("SE3 balls");
        yield return new TestCaseData("T(2)", false, true).SetArgDisplayNames("T(2) balls, shared points");
    }

    [TestCaseSource(nameof(Cases))]
    public void TheCallerKeepsOnlyTheOutput_AndTheNextBlockAndBackwardStillWork(string spec, bool knn, bool sharedPoints)
    {
        var group = LieGroup.Parse(spec);
        manual_seed(31);
        int dim = group.SpaceDim;
        var clouds = RandomClouds(3, 12, dim, 8);
        if (sharedPoints) clouds = clouds with { Coordinates = clouds.Coordinates.narrow(0, 0, 1).expand(3, 12, dim).contiguous() };
        var input = LiftedCloud.Lift(group, clouds.Coordinates, clouds.Values.requires_grad_(), clouds.Mask, 1, RandomSource.Counter(5));
        Assert.That(input.SharesGeometry, Is.EqualTo(sharedPoints));
        var settings = new LieConvSettings(Neighbourhood: 5, Fill: 0.5, Knn: knn, BatchNorm: true);
        var first = new BottleBlock(group, 8, 8, settings, 1, Sampling.Create(0, "first"));
        var second = new BottleBlock(group, 8, 8, settings, 1, Sampling.Create(0, "second"));

        using var scope = NewDisposeScope();
        var middle = first.forward(input);
        var kept = middle.Tensors().Distinct().ToList();
        Assert.That(scope.DisposablesCount, Is.LessThanOrEqualTo(kept.Count),
            "only the output cloud's tensors reach the caller (without the block's scope: hundreds of temporaries)");
        Assert.That(kept.All(t => !t.IsInvalid), "nothing passed on was freed");
        if (knn) Assert.That(middle.Nearest, Is.Not.Null);
        else if (!sharedPoints) Assert.That(middle.Distances, Is.Not.Null);

        var output = second.forward(middle);
        if (knn) Assert.That(output.Nearest!.Neighbourhood, Is.SameAs(middle.Nearest!.Neighbourhood), "the second block reused the first's search");
        output.Values.square().sum().backward();
        var gradients = first.parameters().Concat(second.parameters()).Select(p => p.grad).ToList();
        Assert.That(gradients.All(g => g is not null && g.isfinite().all().item<bool>()), "every parameter has a finite gradient");
        Assert.That(clouds.Values.grad!.abs().sum().item<float>(), Is.GreaterThan(0), "the gradient reaches the input");
    }
}
