namespace LieConv.Models.Dynamics;

/// <summary>
/// The dynamics networks of the original's spring experiments (reference §3.7, §3.8), by the names its scripts use.
/// </summary>
public enum DynamicsNetworkKind
{
    /// <summary>Fully connected network that outputs the vector field (q̇, ṗ) directly.</summary>
    FC,
    /// <summary>Fully connected potential V(q, sysP); H = T + V with the known kinetic energy T.</summary>
    HFC,
    /// <summary>LieResNet potential V(q, sysP) (the paper's model); H = T + V.</summary>
    HLieResNet,
    /// <summary>LieResNet that outputs (q̇, ṗ) per particle directly.</summary>
    FLieResNet,
    /// <summary>Graph network that outputs (q̇, ṗ) per particle directly.</summary>
    OGN,
    /// <summary>Graph network whose global output is the whole Hamiltonian H(q, p, sysP).</summary>
    HOGN,
    /// <summary>Graph network whose global output is the potential V(q, sysP); H = T + V.</summary>
    VOGN,
}
