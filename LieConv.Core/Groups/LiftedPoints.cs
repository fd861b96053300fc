using static TorchSharp.torch;

namespace LieConv.Groups;

/// <summary>
/// A point cloud lifted to the group: one group element per (point, lift sample), in Lie-algebra coordinates,
/// and the orbit identifier q of its point.
/// </summary>
/// <param name="Elements">(…, n·ns, LieDim): u = exp(a) with u·o(q) = x. Lift sample s of point i sits at i·ns + s.</param>
/// <param name="Orbits">(…, n·ns, QDim): invariant features the group cannot change (e.g. the radius for SO(2)).</param>
/// <param name="LiftSamples">ns, the number of group elements per input point.</param>
public sealed record LiftedPoints(Tensor Elements, Tensor Orbits, int LiftSamples);
