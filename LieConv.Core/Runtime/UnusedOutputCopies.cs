using System.Reflection;
using static TorchSharp.torch;

namespace LieConv.Runtime;

/// <summary>
/// Frees the copy that TorchSharp 0.107 allocates of every output of a custom autograd function, which this library's
/// functions never read.
/// </summary>
/// <remarks>
/// TorchSharp keeps an <c>empty_like</c> copy of each output of a custom function for as long as its graph node
/// lives, so that it can make zeros of the right shape when an output brings no gradient. Every function here turns
/// that off (<c>set_materialize_grads(false)</c>: no gradient arrives as none), so the copies are only memory — as much
/// as the outputs themselves, held from the forward pass to the end of the backward pass: the kernel network's
/// output for every (query, neighbour) pair, every lean Swish activation and gradient of a Hamiltonian network. They
/// live in a private field of TorchSharp's node; if a TorchSharp version renames it, nothing is freed (a test says so).
/// </remarks>
internal static class UnusedOutputCopies
{
    private static readonly FieldInfo? NodeField = typeof(autograd.AutogradContext).GetField("_node", BindingFlags.NonPublic | BindingFlags.Instance);
    private static readonly FieldInfo? MaterializeField = typeof(autograd.AutogradContext).GetField("_materializeGrads", BindingFlags.NonPublic | BindingFlags.Instance);
    [ThreadStatic] private static autograd.AutogradContext? pending;
    private static long freed;

    /// <summary>Called by a function's forward pass, after <c>set_materialize_grads(false)</c>: its outputs' copies may go.</summary>
    public static void Expect(autograd.AutogradContext ctx) => pending = ctx;

    /// <summary>Frees the copies of the outputs of the function that just ran on this thread (its <c>apply</c> has returned) and returns <paramref name="outputs"/>.</summary>
    public static T Free<T>(T outputs)
    {
        var ctx = pending;
        pending = null;
        if (ctx is null || MaterializeField?.GetValue(ctx) is not false || NodeField?.GetValue(ctx) is not { } node) return outputs;
        if (node.GetType().GetField("_outputCache", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(node) is not List<Tensor> copies) return outputs;
        foreach (var copy in copies)
            if (copy is { IsInvalid: false })
            {
                copy.Dispose();
                Interlocked.Increment(ref freed);
            }
        return outputs;
    }

    /// <summary>How many copies have been freed in this process.</summary>
    internal static long Freed => Interlocked.Read(ref freed);
}
