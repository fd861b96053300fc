namespace LieConv.Runtime;

/// <summary>The end of a scope: runs its action once, however often it is disposed.</summary>
internal sealed class ScopeEnd(Action end) : IDisposable
{
    private int ended;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref ended, 1) == 0) end();
    }
}
