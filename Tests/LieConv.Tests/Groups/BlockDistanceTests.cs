using LieConv.Groups;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.Groups;

/// <summary>The all-pairs distances of neighbour search agree with the pairwise definition for every group.</summary>
[TestFixture]
public class BlockDistanceTests
{
    [TestCase("T(2)")]
    [TestCase("T(3)")]
    [TestCase("Trivial(2)")]
    [TestCase("SO2(.2)")]
    [TestCase("SE2(.05)")]
    [TestCase("SE3(.2)")]
    public void BlockDistanceEqualsPairDistance(string spec)
    {
        var group = LieGroup.Parse(spec);
        manual_seed(7);
        // Clouds away from the origin, as molecules and image grids are, where the matrix-product form loses most.
        var points = 3 * randn(2, 40, group.SpaceDim, dtype: ScalarType.Float32) + 5;
        var lifted = group.Lift(points, 1);
        var queries = (Elements: lifted.Elements.narrow(1, 0, 7), Orbits: lifted.Orbits.narrow(1, 0, 7));

        var block = group.BlockDistance(queries.Elements, queries.Orbits, lifted.Elements, lifted.Orbits);
        var pairwise = group.PairDistance(queries.Elements.unsqueeze(2), queries.Orbits.unsqueeze(2), lifted.Elements.unsqueeze(1), lifted.Orbits.unsqueeze(1));

        Assert.That(block.shape, Is.EqualTo(new long[] { 2, 7, 40 }));
        double error = (block - pairwise).abs().max().item<float>();
        // The matrix-product form (groups with Euclidean coordinates) rounds to about √(‖x‖²·ε) times the distance's
        // multiple: α = 0.2 for T(d), 1 − α = 0.8 for the trivial group.
        double multiple = group.EuclideanCoordinates(queries.Elements, queries.Orbits)?.Scale ?? 0.2;
        Assert.That(error, Is.LessThan(5e-3 * multiple), $"max |block − pairwise| = {error}");
        // Each query is at distance ~0 from itself (the matrix-product form rounds to about √(‖x‖²·ε)).
        var self = block.narrow(2, 0, 7).diagonal(0, 1, 2);
        Assert.That(self.abs().max().item<float>(), Is.LessThan(2e-2));
    }
}
