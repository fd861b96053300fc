using static TorchSharp.torch;

namespace LieConv.Runtime;

/// <summary>
/// The backward calls of this library's own autograd operations (TorchSharp custom functions): what they return
/// and how they fail.
/// </summary>
internal static class CustomBackward
{
    [ThreadStatic] private static List<Tensor>? returned;
    private static Exception? failure;

    /// <summary>
    /// Runs the body of a backward call, <paramref name="differentiate"/>, which returns one gradient (or null) per
    /// input, moved out of its own dispose scope.
    /// </summary>
    /// <remarks>
    /// <para>libtorch takes its own reference to what a backward call returns, so the managed handles only keep the
    /// memory alive — until the training step's dispose scope ends, which would hold every layer's gradients at once.
    /// The next backward call on the same thread lets them go: by then the engine has taken them, which a call on
    /// another thread could not be sure of.</para>
    /// <para>The autograd engine calls through native frames, which a .NET exception cannot cross: the process would
    /// end. A failure (a saved input changed in place since the forward pass, memory running out) is therefore kept
    /// for <see cref="ThrowIfFailed"/> and the engine gets <paramref name="wrongGradients"/>, gradients of the wrong
    /// shape, which make it fail the whole backward call: an exception at the caller, as any other backward error.</para>
    /// </remarks>
    public static List<Tensor> Run(Func<List<Tensor>> differentiate, Func<List<Tensor>> wrongGradients)
    {
        foreach (var t in returned ?? []) t.Dispose();
        (returned ??= []).Clear();
        try
        {
            var gradients = differentiate();
            returned.AddRange(gradients.OfType<Tensor>());
            return gradients;
        }
        catch (Exception e)
        {
            Interlocked.Exchange(ref failure, e);
            return wrongGradients();
        }
    }

    /// <summary>
    /// <see cref="Run(Func{List{Tensor}}, Func{List{Tensor}})"/> for an operation with one output that turned off
    /// materialized gradients: when no gradient arrives (<paramref name="gradOutput"/> undefined) none leaves either,
    /// one null for each of its <paramref name="inputs"/>.
    /// </summary>
    public static List<Tensor> Run(Tensor gradOutput, int inputs, Func<List<Tensor>> differentiate, Func<List<Tensor>> wrongGradients) =>
        gradOutput.IsInvalid ? Enumerable.Repeat<Tensor>(null!, inputs).ToList() : Run(differentiate, wrongGradients);

    /// <summary>
    /// Runs a backward call (<c>backward</c>, <c>autograd.grad</c>) and, if it throws, throws the failure of one of
    /// this library's operations behind it instead (see <see cref="ThrowIfFailed"/>).
    /// </summary>
    public static T Call<T>(Func<T> backwardCall)
    {
        try
        {
            return backwardCall();
        }
        catch (Exception e)
        {
            ThrowIfFailed(e);
            throw;
        }
    }

    /// <inheritdoc cref="Call{T}(Func{T})"/>
    public static void Call(Action backwardCall) => Call(() => { backwardCall(); return true; });

    /// <summary>
    /// After a backward call (<c>backward</c>, <c>autograd.grad</c>) threw <paramref name="engineError"/>: throws the
    /// failure of one of this library's operations behind it, if there was one.
    /// </summary>
    /// <exception cref="InvalidOperationException">An operation's backward pass failed; the inner exception says why.</exception>
    public static void ThrowIfFailed(Exception engineError)
    {
        if (Interlocked.Exchange(ref failure, null) is { } cause)
            throw new InvalidOperationException(
                $"The backward pass of a LieConv layer failed: {cause.Message} (autograd: {engineError.Message.Split('\n', 2)[0].Trim()})", cause);
    }
}
