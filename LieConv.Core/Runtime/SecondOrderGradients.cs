namespace LieConv.Runtime;

/// <summary>
/// Marks forward passes whose gradient will itself be differentiated (its graph kept with <c>create_graph</c>), as
/// in a Hamiltonian network, whose vector field is the gradient of its energy and whose training loss is a function
/// of that field.
/// </summary>
/// <remarks>
/// <para>The mark promises that the forward pass is first differentiated by its inputs alone, keeping the graph
/// (the field: <c>create_graph: true</c>, by <c>autograd.backward(…, inputs: …)</c> rather than TorchSharp's
/// <c>autograd.grad</c>, which ends the process on an error), and that this gradient is then
/// differentiated as any result (the loss's backward pass, by the parameters too). Layers that have two ways of
/// being differentiated choose by it: the activations take a route whose gradient is one autograd operation with a
/// small graph instead of libtorch's general formula (which keeps about five tensors of the activation's size for
/// the second differentiation), while a first-order backward pass keeps libtorch's fused kernel; the neighbour
/// contraction's first gradient is one lean operation that leaves out the parameters' gradients. The results are
/// the same either way; only memory and time differ.</para>
/// <para><see cref="Numerics.HamiltonianDynamics"/> marks its energy evaluations when it keeps the field's graph;
/// code that differentiates this library's layers with <c>create_graph: true</c> itself can mark its own
/// forward passes with <see cref="Begin"/>. The mark belongs to the calling thread.</para>
/// </remarks>
public static class SecondOrderGradients
{
    [ThreadStatic] private static int depth;

    /// <summary>Whether the forward pass running on this thread will have its gradient differentiated.</summary>
    public static bool Expected => depth > 0;

    /// <summary>Marks what runs on this thread until the returned scope is disposed (scopes nest).</summary>
    public static IDisposable Begin()
    {
        depth++;
        return new ScopeEnd(() => depth--);
    }
}
