using LieConv.Nn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LieConv.Models.Dynamics;

/// <summary>
/// One graph-network layer (reference §3.8; torch_geometric's MetaLayer as the original uses it) on the complete
/// directed graph with self loops: an edge model, then a node model, then a global model, each a two-layer MLP
/// Linear → act → Linear → act of width k, with sum aggregation.
/// </summary>
/// <remarks>
/// Edges are dense: e[b, i, j] is the edge from source j to destination i, so the n² edges of a system (self loops
/// included) are one (n, n) block and "sum over the edges into node i" is a sum over j.
/// <list type="bullet">
/// <item>edge: [x_src, x_dst, e, u] → e';</item>
/// <item>node: [x, Σⱼ e'[i, j], u] → x';</item>
/// <item>global: [u, Σ e', Σ x'] → u'.</item>
/// </list>
/// </remarks>
public sealed class GraphNetworkLayer : nn.Module<Tensor, Tensor, Tensor, (Tensor Nodes, Tensor Edges, Tensor Global)>
{
    private readonly Sequential edgeModel;
    private readonly Sequential nodeModel;
    private readonly Sequential globalModel;

    /// <summary>A layer for the given input feature sizes, all outputs of width <paramref name="width"/>.</summary>
    /// <param name="nodeFeatures">Features per node of the input.</param>
    /// <param name="edgeFeatures">Features per edge of the input.</param>
    /// <param name="globalFeatures">Global features of the input.</param>
    /// <param name="width">k, the width of every MLP and of the outputs.</param>
    /// <param name="activation">The nonlinearity (Swish in the original).</param>
    public GraphNetworkLayer(long nodeFeatures, long edgeFeatures, long globalFeatures, long width, Activation activation)
        : base(nameof(GraphNetworkLayer))
    {
        edgeModel = TwoLayer(2 * nodeFeatures + edgeFeatures + globalFeatures, width, activation);
        nodeModel = TwoLayer(nodeFeatures + width + globalFeatures, width, activation);
        globalModel = TwoLayer(globalFeatures + 2 * width, width, activation);
        RegisterComponents();
    }

    /// <summary>Applies the layer.</summary>
    /// <param name="nodes">x (B, n, F_x).</param>
    /// <param name="edges">e (B, n, n, F_e), e[b, i, j] on the edge j → i.</param>
    /// <param name="global">u (B, F_u).</param>
    /// <returns>x' (B, n, k), e' (B, n, n, k), u' (B, k).</returns>
    public override (Tensor Nodes, Tensor Edges, Tensor Global) forward(Tensor nodes, Tensor edges, Tensor global)
    {
        long b = nodes.shape[0], n = nodes.shape[1];
        var source = nodes.unsqueeze(1).expand(b, n, n, nodes.shape[2]);
        var destination = nodes.unsqueeze(2).expand(b, n, n, nodes.shape[2]);
        var globalPerEdge = global.unsqueeze(1).unsqueeze(1).expand(b, n, n, global.shape[1]);
        var newEdges = edgeModel.forward(cat([source, destination, edges, globalPerEdge], dim: -1));
        var incoming = newEdges.sum(dim: 2);
        var newNodes = nodeModel.forward(cat([nodes, incoming, global.unsqueeze(1).expand(b, n, global.shape[1])], dim: -1));
        var newGlobal = globalModel.forward(cat([global, newEdges.sum([1, 2]), newNodes.sum(dim: 1)], dim: -1));
        return (newNodes, newEdges, newGlobal);
    }

    private static Sequential TwoLayer(long inputs, long width, Activation activation) => nn.Sequential(
        ("linear0", nn.Linear(inputs, width)), ("act0", activation.AsModule()),
        ("linear1", nn.Linear(width, width)), ("act1", activation.AsModule()));
}

/// <summary>
/// OGN (reference §3.8): a graph network over nodes [centred q, p, sysP] whose node outputs give the field directly,
/// q̇ = Linear(k→d)(x'), ṗ = Linear(k→d)(x'). Defaults k 64, 1 layer.
/// </summary>
public sealed class OGN : DynamicsNetwork
{
    private readonly GraphStack graph;
    private readonly Linear positionHead;
    private readonly Linear momentumHead;

    /// <summary>Builds the network (use <see cref="DynamicsNetworkOptions.Create"/>).</summary>
    public OGN(DynamicsNetworkOptions options) : base(nameof(OGN), options)
    {
        graph = new GraphStack(options, 2 * options.Dimension + options.SystemDimension);
        positionHead = nn.Linear(options.EffectiveChannels, options.Dimension);
        momentumHead = nn.Linear(options.EffectiveChannels, options.Dimension);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor t, Tensor z, Tensor sysP)
    {
        CheckInputs(z, sysP);
        var (q, p) = SplitState(z);
        var (nodes, _) = graph.Propagate(cat([Centre(q), p, sysP], dim: -1));
        return JoinState(positionHead.forward(nodes), momentumHead.forward(nodes));
    }
}

/// <summary>
/// HOGN (reference §3.8): the graph network of <see cref="OGN"/> whose global output is the whole Hamiltonian,
/// H = Linear(k→1)(u'), momenta included as inputs; dynamics by autodiff. (The original also owned OGN's q̇/ṗ heads
/// without using them; they are left out here, so its weight files would not load as they are.)
/// </summary>
public sealed class HOGN : HamiltonianNetwork
{
    private readonly GraphStack graph;
    private readonly Linear energyHead;

    /// <summary>Builds the network (use <see cref="DynamicsNetworkOptions.Create"/>).</summary>
    public HOGN(DynamicsNetworkOptions options) : base(nameof(HOGN), options)
    {
        graph = new GraphStack(options, 2 * options.Dimension + options.SystemDimension);
        energyHead = nn.Linear(options.EffectiveChannels, 1);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor Hamiltonian(Tensor t, Tensor z, Tensor sysP)
    {
        var (q, p) = SplitState(z);
        var (_, global) = graph.Propagate(cat([Centre(q), p, sysP], dim: -1));
        return energyHead.forward(global).squeeze(-1);
    }
}

/// <summary>
/// VOGN (reference §3.8, study script only): a graph network over nodes [centred q, sysP] whose global output is the
/// potential, V = Linear(k→1)(u'); H = T + V.
/// </summary>
public sealed class VOGN : PotentialHamiltonianNetwork
{
    private readonly GraphStack graph;
    private readonly Linear potentialHead;

    /// <summary>Builds the network (use <see cref="DynamicsNetworkOptions.Create"/>).</summary>
    public VOGN(DynamicsNetworkOptions options) : base(nameof(VOGN), options)
    {
        graph = new GraphStack(options, options.Dimension + options.SystemDimension);
        potentialHead = nn.Linear(options.EffectiveChannels, 1);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor Potential(Tensor positions, Tensor sysP)
    {
        var (_, global) = graph.Propagate(cat([Centre(positions), sysP], dim: -1));
        return potentialHead.forward(global).squeeze(-1);
    }
}

/// <summary>
/// A stack of <see cref="GraphNetworkLayer"/>s over the particles of a system, started from edge and global features
/// 1.0 (reference §3.8): the first layer takes (node F, edge 1, global 1), later ones width k throughout.
/// </summary>
internal sealed class GraphStack : nn.Module
{
    private readonly ModuleList<GraphNetworkLayer> layers;

    public GraphStack(DynamicsNetworkOptions options, long nodeFeatures) : base(nameof(GraphStack))
    {
        long k = options.EffectiveChannels;
        layers = new ModuleList<GraphNetworkLayer>(Enumerable.Range(0, options.EffectiveLayers)
            .Select(i => new GraphNetworkLayer(i == 0 ? nodeFeatures : k, i == 0 ? 1 : k, i == 0 ? 1 : k, k, options.Activation)).ToArray());
        RegisterComponents();
    }

    public (Tensor Nodes, Tensor Global) Propagate(Tensor nodes)
    {
        long b = nodes.shape[0], n = nodes.shape[1];
        var edges = ones(b, n, n, 1, dtype: nodes.dtype, device: nodes.device);
        var global = ones(b, 1, dtype: nodes.dtype, device: nodes.device);
        foreach (var layer in layers) (nodes, edges, global) = layer.forward(nodes, edges, global);
        return (nodes, global);
    }
}
