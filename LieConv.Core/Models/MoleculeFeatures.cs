namespace LieConv.Models;

/// <summary>
/// Per-atom input features of the molecule networks (reference §3.6): with c = Z / chargeScale, atom features are
/// onehot(Z over the species) ⊗ (1, c, c²), flattened species-major (index = species·3 + power).
/// </summary>
public static class MoleculeFeatures
{
    /// <summary>The QM9 species H, C, N, O, F.</summary>
    public static IReadOnlyList<int> Qm9Species { get; } = [1, 6, 7, 8, 9];

    /// <summary>The QM9 charge scale (the largest atomic number).</summary>
    public const double Qm9ChargeScale = 9;

    /// <summary>Features per atom for <paramref name="speciesCount"/> species.</summary>
    public static int FeaturesPerAtom(int speciesCount) => 3 * speciesCount;

    /// <summary>Writes the features of atoms with atomic numbers <paramref name="charges"/> into <paramref name="features"/> (N, 3·S).</summary>
    /// <exception cref="ArgumentException">An atomic number is not one of <paramref name="species"/> (its atom index is in the message), or a span has the wrong length.</exception>
    public static void Featurize(ReadOnlySpan<float> charges, IReadOnlyList<int> species, double chargeScale, Span<float> features)
    {
        ArgumentNullException.ThrowIfNull(species);
        int width = FeaturesPerAtom(species.Count);
        if (features.Length != charges.Length * width)
            throw new ArgumentException($"The features span has {features.Length} values; expected N·3·S = {charges.Length * width}.", nameof(features));
        features.Clear();
        for (int atom = 0; atom < charges.Length; atom++)
        {
            float z = charges[atom];
            int s = IndexOf(species, z);
            if (s < 0)
                throw new ArgumentException($"Atom {atom} has atomic number {z}; expected one of {string.Join(", ", species)}.", nameof(charges));
            // Computed like the network's own featurizer (float32 division and product), so both give the same bits.
            float c = z / (float)chargeScale;
            var row = features.Slice(atom * width + 3 * s, 3);
            row[0] = 1;
            row[1] = c;
            row[2] = c * c;
        }
    }

    private static int IndexOf(IReadOnlyList<int> species, float z)
    {
        for (int i = 0; i < species.Count; i++)
            if (species[i] == z) return i;
        return -1;
    }
}
