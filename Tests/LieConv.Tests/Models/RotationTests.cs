using LieConv.Groups;
using LieConv.Models;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;
using static LieConv.Tests.Groups.TensorTestHelpers;
using LieConv.Tests.Nn;
using static LieConv.Tests.Nn.NnTestData;

namespace LieConv.Tests.Models;

/// <summary>Rotation invariance: exact where nothing random is involved, in distribution where lifts are random.</summary>
[TestFixture]
public class RotationTests : SingleThreadedFixture
{
    /// <summary>np.rot90 on the last two axes: out[i, j] = in[j, W − 1 − i].</summary>
    private static Tensor Rot90(Tensor images) => images.flip(3).transpose(2, 3);

    private static Tensor Evaluate(ImageLieResNet net, Tensor images)
    {
        using var noGrad = no_grad();
        return net.forward(images);
    }

    [Test]
    public void Rot90_IsTheNumPyRotation()
    {
        var m = arange(6).reshape(1, 1, 2, 3);                            // [[0 1 2] [3 4 5]]
        Assert.That(Indices(Rot90(m)), Is.EqualTo(new long[] { 2, 5, 1, 4, 0, 3 }));  // np.rot90: [[2 5] [1 4] [0 3]]
    }

    [Test]
    public void SO2ImageNetwork_IsExactlyInvariantToQuarterTurns() => SO2QuarterTurns(0.2);

    [Test]
    public void SO2ImageNetwork_WithTheWholeGridInTheBall_IsExactlyInvariantToQuarterTurns() => SO2QuarterTurns(2.0);

    /// <summary>
    /// The 648-point grid of a 28×28 image maps to itself under a quarter turn, so a rotated image is the same cloud
    /// turned by 90° (its points reordered). SO(2) lifts are deterministic; with no subsampling and a ball that takes
    /// every in-ball point (Neighbourhood = the largest ball), nothing random is left and the output depends only on
    /// the invariant pair features (Δθ, r_u, r_v): it must be exactly invariant. float64, so that no pair within
    /// rounding distance of the ball's edge can change sides (checked with a 1e-9 margin), tolerance 1e-10.
    /// A radius of 0.2 (SO2 units) keeps |Δθ| ≤ 1 &lt; π for every neighbour, away from the ±π cut (see the ignored test).
    /// </summary>
    private static void SO2QuarterTurns(double radius)
    {
        var group = new SO2(0.2);
        var (points, _) = ImageLieResNet.Grid(28, 28, 15, ScalarType.Float64, CPU);
        var grid = group.Lift(points.unsqueeze(0));
        var distance = group.Distance(group.PairFeatures(grid.Elements.unsqueeze(2), grid.Orbits.unsqueeze(2), grid.Elements.unsqueeze(1), grid.Orbits.unsqueeze(1)));
        Assert.That((distance - radius).abs().min().item<double>(), Is.GreaterThan(1e-9), "no pair sits on the ball's edge, where rounding could move it");
        long largestBall = (distance < radius).sum(-1).max().item<long>();

        manual_seed(40);
        var net = new ImageLieResNet(new ImageLieResNetOptions
        {
            Group = "SO2(0.2)", Classes = 3, Layers = 1, Channels = 16, TotalDownsample = 1, Neighbourhood = largestBall, Fill = 1,
        });
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.to(ScalarType.Float64);
        using (no_grad()) net.Body.Blocks[0].Convolution.Radius.fill_(radius);
        net.eval();
        var images = randn(1, 1, 28, 28, dtype: ScalarType.Float64);
        var reference = Evaluate(net, images);
        Assert.That(RelativeError(Evaluate(net, Rot90(images)), reference), Is.LessThan(1e-10), "quarter turn");
        Assert.That(RelativeError(Evaluate(net, Rot90(Rot90(images))), reference), Is.LessThan(1e-10), "half turn");
        // Negative control: SO(2) does not contain reflections, and transposing the image reflects the cloud.
        // (Measured 1e-4: the ball's kernels are averaged over many neighbours of random pixels; still 1e6 times the
        // tolerance above.)
        Assert.That(RelativeError(Evaluate(net, images.transpose(2, 3)), reference), Is.GreaterThan(1e-6), "reflection");
    }

    /// <summary>
    /// Compares the mean outputs of R random evaluations of each input: returns, per output, the difference of the
    /// means in units of its standard error √(s₁²/R + s₂²/R).
    /// </summary>
    private static double[] StandardisedDifference(Tensor first, Tensor second)
    {
        long r = first.shape[0];
        var difference = (first.mean(new long[] { 0 }) - second.mean(new long[] { 0 })).abs();
        var error = ((Variance(first) + Variance(second)) / r).sqrt();
        return Values(difference / error);
    }

    /// <summary>Unbiased variance over axis 0.</summary>
    private static Tensor Variance(Tensor x) => (x - x.mean(new long[] { 0 }, keepdim: true)).square().sum(dim: 0) / (x.shape[0] - 1);

    // Distribution tests: R copies of an input in one batch get independent draws (EvaluationSeed = null), and the
    // mean outputs of an input and of its rotation must agree within MaxZ standard errors for every output. 4.5 is
    // a two-sided normal bound with a false-alarm rate of about 7e-6 per output (the runs are seeded, so the
    // outcome is fixed anyway). Each test also shows that the same statistic does detect a change that is not a
    // symmetry (Z > MinZ), so that it can fail.
    private const double MaxZ = 4.5;
    private const double MinZ = 10;

    [Test]
    public void SE2ImageNetwork_IsInvariantToQuarterTurnsInDistribution()
    {
        // SE2 lifts draw a random stabilizer angle per pixel, and a rotated image is lifted with other draws, so
        // outputs agree only in distribution. A 12×12 image (the grid within radius 6, which also maps to itself
        // under quarter turns) keeps R copies cheap. Control: the same pixel values at shuffled positions.
        // Reflections are no control here: with a random lift per point, the first layer's pair features
        // (θ_v − θ_u uniform, b rotated by an independent uniform angle) are reflection-symmetric in distribution, so
        // the mean output of a tiny network barely sees a reflection (Z ≈ 2 measured).
        manual_seed(41);
        const int R = 64;
        var net = new ImageLieResNet(new ImageLieResNetOptions
        {
            Group = "SE2(0.2)", Classes = 3, Layers = 1, Channels = 16, TotalDownsample = 1, Neighbourhood = 8, Fill = 1,
            LiftSamples = 2, CropRadius = 6, EvaluationSeed = null,
        });
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.eval();
        var image = randn(1, 1, 12, 12);
        var shuffled = image.flatten().index_select(0, randperm(144)).reshape(1, 1, 12, 12);
        var reference = Evaluate(net, image.expand(R, -1, -1, -1));
        var z = StandardisedDifference(Evaluate(net, Rot90(image).expand(R, -1, -1, -1)), reference);
        var zShuffled = StandardisedDifference(Evaluate(net, shuffled.expand(R, -1, -1, -1)), reference);
        TestContext.Out.WriteLine($"rotated Z {string.Join(" ", z.Select(v => v.ToString("F2")))}; shuffled Z {string.Join(" ", zShuffled.Select(v => v.ToString("F2")))}");
        Assert.That(Values(Variance(reference)), Is.All.GreaterThan(0), "the lift must be random");
        Assert.That(z, Is.All.LessThan(MaxZ), "quarter turn");
        Assert.That(zShuffled.Max(), Is.GreaterThan(MinZ), "shuffled pixels");
    }

    private static MoleculeBatch RandomMolecule(long atoms, long seed)
    {
        manual_seed(seed);
        var positions = randn(1, atoms, 3) * 1.5;
        var charges = tensor(new float[] { 1, 6, 8 }).index_select(0, randint(0, 3, new[] { atoms })).reshape(1, atoms);
        return new MoleculeBatch(positions, charges);
    }

    private static Tensor Evaluate(MoleculeLieResNet net, MoleculeBatch batch, long copies)
    {
        using var noGrad = no_grad();
        return net.forward(new MoleculeBatch(batch.Positions.expand(copies, -1, -1), batch.Charges.expand(copies, -1)));
    }

    private static MoleculeLieResNet MoleculeNet(string group, int liftSamples, bool knn, long neighbourhood, long? seed) => new(new MoleculeLieResNetOptions
    {
        Species = new[] { 1, 6, 8 }, Group = group, Channels = 16, Layers = 2, Neighbourhood = neighbourhood, Knn = knn,
        LiftSamples = liftSamples, Fill = 1, EvaluationSeed = seed,
    });

    [Test]
    public void SO3MoleculeNetwork_IsRotationInvariantInDistribution()
    {
        // Random stabilizer angles per atom make predictions random; a molecule rotated about the origin has the same
        // output distribution. Control: the molecule scaled by 2 (SO3 sees radii and angles; measured Z ≈ 30).
        const int R = 64;
        var molecule = RandomMolecule(8, 42);
        var net = MoleculeNet("SO3(0.2)", 2, false, 100, null);
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.eval();
        var rotation = new SO3().Exp(SO3.SampleHaar(new long[] { 1 }, ScalarType.Float32, CPU, null));
        var reference = Evaluate(net, molecule, R).unsqueeze(-1);
        var z = StandardisedDifference(Evaluate(net, molecule with { Positions = matmul(molecule.Positions, rotation.transpose(-1, -2)) }, R).unsqueeze(-1), reference)[0];
        var zScaled = StandardisedDifference(Evaluate(net, molecule with { Positions = molecule.Positions * 2 }, R).unsqueeze(-1), reference)[0];
        TestContext.Out.WriteLine($"rotated Z {z:F2}, scaled Z {zScaled:F2}");
        Assert.That(Variance(reference).item<float>(), Is.GreaterThan(0), "the lift must be random");
        Assert.That(z, Is.LessThan(MaxZ), "rotation");
        Assert.That(zScaled, Is.GreaterThan(MinZ), "scaling");
    }

    [Test]
    public void SE3MoleculeNetwork_IsInvariantToRigidMotionsInDistribution()
    {
        // As for SO3, with a rotation and a translation. A random rotation per atom leaves each pair's kernel input a
        // randomly turned displacement, so the mean output of this tiny network hardly depends on the geometry at all
        // (scaling the molecule by 2 gives Z ≈ 9, a permutation of the positions Z < 1): the statistical test is weak
        // here, and the exact test with matched lifts (EquivarianceTests) is the sharp one. The control changes
        // one atom's species (measured Z ≈ 67), which shows the statistic's resolution.
        const int R = 64;
        var molecule = RandomMolecule(8, 42);
        var net = MoleculeNet("SE3(0.2)", 2, false, 100, null);
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.eval();
        var rotation = new SO3().Exp(SO3.SampleHaar(new long[] { 1 }, ScalarType.Float32, CPU, null));
        var moved = matmul(molecule.Positions, rotation.transpose(-1, -2)) + tensor(new[] { 0.7f, -1.1f, 0.4f });
        var otherSpecies = molecule.Charges.clone();
        otherSpecies[0, 0] = tensor(otherSpecies[0, 0].item<float>() == 1 ? 6f : 1f);
        var reference = Evaluate(net, molecule, R).unsqueeze(-1);
        var z = StandardisedDifference(Evaluate(net, molecule with { Positions = moved }, R).unsqueeze(-1), reference)[0];
        var zSpecies = StandardisedDifference(Evaluate(net, molecule with { Charges = otherSpecies }, R).unsqueeze(-1), reference)[0];
        TestContext.Out.WriteLine($"moved Z {z:F2}, other species Z {zSpecies:F2}");
        Assert.That(Variance(reference).item<float>(), Is.GreaterThan(0), "the lift must be random");
        Assert.That(z, Is.LessThan(MaxZ), "rotation and translation");
        Assert.That(zSpecies, Is.GreaterThan(MinZ), "species change");
    }

    [Test]
    public void T3MoleculeNetwork_IsNotRotationInvariant()
    {
        // Negative control: T(3) kernels see the raw difference vectors, so a rotated molecule gets another
        // (deterministic: kNN, deterministic lift) prediction, while a translated one gets the same.
        manual_seed(43);
        var positions = randn(4, 8, 3) * 1.5;
        var charges = tensor(new float[] { 1, 6, 8 }).index_select(0, randint(0, 3, new long[] { 32 })).reshape(4, 8);
        var net = MoleculeNet("T(3)", 1, true, 5, 0);
        RandomiseRunningStatistics(net);
        AmplifyWeights(net);
        net.eval();
        var rotation = new SO3().Exp(tensor(new[] { 0.3f, -1.2f, 0.8f }));
        Tensor Predict(Tensor p)
        {
            using var noGrad = no_grad();
            return net.forward(new MoleculeBatch(p, charges));
        }
        var reference = Predict(positions);
        var rotated = Predict(matmul(positions, rotation.transpose(-1, -2)));
        var translated = Predict(positions + tensor(new[] { 0.7f, -1.1f, 0.4f }));
        TestContext.Out.WriteLine($"outputs {string.Join(" ", Values(reference).Select(v => v.ToString("F4")))}, rotated {string.Join(" ", Values(rotated).Select(v => v.ToString("F4")))}");
        // Outputs are O(0.1): a rotation must move them by far more than float32 noise (the translation's ≤ 1e-5).
        Assert.That(MaxAbs(rotated - reference), Is.GreaterThan(1e-3), "rotation");
        Assert.That(RelativeError(translated, reference), Is.LessThan(1e-5), "translation");
    }
}
