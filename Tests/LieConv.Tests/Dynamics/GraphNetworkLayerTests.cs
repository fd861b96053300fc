using LieConv.Models.Dynamics;
using LieConv.Nn;
using LieConv.Tests.Nn;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Dynamics;

/// <summary>The graph-network layer against a per-edge loop written straight from reference §3.8.</summary>
[TestFixture]
public sealed class GraphNetworkLayerTests : SingleThreadedFixture
{
    [Test]
    public void Layer_EqualsTheEdgeNodeGlobalRecipe_OnTheCompleteGraphWithSelfLoops()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        const int n = 3;
        using var layer = new GraphNetworkLayer(nodeFeatures: 4, edgeFeatures: 2, globalFeatures: 1, width: 5, Activation.Swish);
        var models = layer.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        Assert.That(models.Keys, Is.EquivalentTo(new[] { "edgeModel", "nodeModel", "globalModel" }));
        var x = randn(2, n, 4, dtype: ScalarType.Float64);
        var e = randn(2, n, n, 2, dtype: ScalarType.Float64);
        var u = randn(2, 1, dtype: ScalarType.Float64);
        layer.to(ScalarType.Float64);
        var (nodes, edges, global) = layer.forward(x, e, u);

        for (int b = 0; b < 2; b++)
        {
            // Edge j → i for every ordered pair, self loops included: [x_src, x_dst, e, u].
            var newEdges = new Tensor[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    newEdges[i, j] = models["edgeModel"].forward(cat([x[b, j], x[b, i], e[b, i, j], u[b]], dim: 0));
            // Node i: [x_i, Σ of the edges whose destination is i, u].
            var newNodes = Enumerable.Range(0, n).Select(i =>
                models["nodeModel"].forward(cat([x[b, i], stack(Enumerable.Range(0, n).Select(j => newEdges[i, j]).ToArray()).sum(dim: 0), u[b]], dim: 0))).ToArray();
            var edgeSum = stack(newEdges.Cast<Tensor>().ToArray()).sum(dim: 0);
            var newGlobal = models["globalModel"].forward(cat([u[b], edgeSum, stack(newNodes).sum(dim: 0)], dim: 0));

            for (int i = 0; i < n; i++)
            {
                Assert.That((nodes[b, i] - newNodes[i]).abs().max().item<double>(), Is.LessThan(1e-12));
                for (int j = 0; j < n; j++)
                    Assert.That((edges[b, i, j] - newEdges[i, j]).abs().max().item<double>(), Is.LessThan(1e-12));
            }
            Assert.That((global[b] - newGlobal).abs().max().item<double>(), Is.LessThan(1e-12));
        }
        Assert.That(nodes.shape, Is.EqualTo(new long[] { 2, n, 5 }));
        Assert.That(global.shape, Is.EqualTo(new long[] { 2, 5 }));
    }
}
