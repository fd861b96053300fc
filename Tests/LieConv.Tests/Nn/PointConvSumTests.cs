using LieConv.Nn;
using LieConv.Runtime;
using LieConv.Tests.Training;
using LieConv.Training;
using NUnit.Framework;
using static TorchSharp.torch;

namespace LieConv.Tests.Nn;

/// <summary>The fused PointConv sum against the same formula written out of plain operations.</summary>
[TestFixture]
public class PointConvSumTests : SingleThreadedFixture
{
    private const long Points = 7, Queries = 5, Neighbours = 4, In = 3, Out = 6;

    private sealed record Inputs(Tensor Features, Tensor Rows, Tensor Kernel, Tensor Weight, Tensor Bias)
    {
        public Tensor[] Differentiable => [Features, Kernel, Weight, Bias];
    }

    /// <summary>Random float64 inputs; the rows repeat points (several queries and neighbours read the same row).</summary>
    private static Inputs RandomInputs(int seed)
    {
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        Tensor Random(params long[] shape) => randn(shape, dtype: ScalarType.Float64, generator: generator).requires_grad_();
        var rows = randint(0, Points, new[] { Queries, Neighbours }, dtype: ScalarType.Int64, generator: generator);
        rows[0, 1] = rows[0, 0].clone();   // the same point twice in one neighbourhood
        return new Inputs(Random(Points, In), rows, Random(Queries, Neighbours, WeightNet.OutputWidth),
            Random(Out, In * WeightNet.OutputWidth), Random(Out));
    }

    private static Tensor Fused(Inputs x) => PointConvSum.Compute(x.Features, x.Rows, x.Kernel, x.Weight, x.Bias);

    private static Tensor Plain(Inputs x)
    {
        var gathered = x.Features.index_select(0, x.Rows.flatten()).view(Queries, Neighbours, In);
        var products = matmul(gathered.transpose(1, 2), x.Kernel).flatten(1);
        return nn.functional.linear(products, x.Weight, x.Bias);
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what) =>
        Assert.That(allclose(actual, expected, rtol: 1e-10, atol: 1e-10), Is.True,
            $"{what}: largest difference {(actual - expected).abs().max().item<double>()}");

    [Test]
    public void Output_IsTheDenseLayerOfTheKernelWeightedSums()
    {
        var x = RandomInputs(1);
        AssertClose(Plain(x), Fused(x), "output");
        using (no_grad())
            AssertClose(Plain(x), Fused(x), "output without gradients");
    }

    [Test]
    public void Gradients_MatchThoseOfThePlainFormula_ForEveryInput()
    {
        var x = RandomInputs(2);
        var seed = randn(Queries, Out, dtype: ScalarType.Float64);
        var expected = autograd.grad([(Plain(x) * seed).sum()], x.Differentiable);
        var actual = autograd.grad([(Fused(x) * seed).sum()], x.Differentiable);
        string[] names = ["features", "kernel", "weight", "bias"];
        for (int i = 0; i < names.Length; i++)
            AssertClose(expected[i], actual[i], $"gradient of the {names[i]}");
    }

    /// <summary>Hamiltonian networks train on the gradient of the energy by the inputs: the backward must itself be differentiable.</summary>
    [Test]
    public void GradientsOfGradients_MatchThoseOfThePlainFormula()
    {
        var x = RandomInputs(3);
        IList<Tensor> SecondOrder(Func<Inputs, Tensor> layer)
        {
            var energy = layer(x).square().sum();
            var byFeatures = autograd.grad([energy], [x.Features], retain_graph: true, create_graph: true)[0];
            return autograd.grad([byFeatures.square().sum()], [x.Features, x.Kernel, x.Weight]);
        }
        var expected = SecondOrder(Plain);
        var actual = SecondOrder(Fused);
        string[] names = ["features", "kernel", "weight"];
        for (int i = 0; i < names.Length; i++)
            AssertClose(expected[i], actual[i], $"second-order gradient by the {names[i]}");
    }

    /// <summary>
    /// Marked for second-order gradients (a Hamiltonian field), the gradient by the inputs is one lean operation
    /// (<see cref="PointConvSumGradient"/>): the same gradients of gradients, to a third derivative, whether the
    /// second differentiation reaches it through the features' gradient, the kernel's, or both.
    /// </summary>
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public void MarkedForSecondOrderGradients_GradientsOfGradientsMatchThePlainFormula(bool byFeatures, bool byKernel)
    {
        var x = RandomInputs(5);
        var seeds = new[] { randn(Points, In, dtype: ScalarType.Float64), randn(Queries, Neighbours, WeightNet.OutputWidth, dtype: ScalarType.Float64) };
        IList<Tensor> Orders(Func<Inputs, Tensor> layer, bool marked)
        {
            Tensor energy;
            using (marked ? SecondOrderGradients.Begin() : null)
                energy = layer(x).square().sum();
            var firsts = autograd.grad([energy], [x.Features, x.Kernel], retain_graph: true, create_graph: true);
            var loss = (byFeatures ? (firsts[0] * seeds[0]).square().sum() : zeros(1, dtype: ScalarType.Float64))
                + (byKernel ? (firsts[1] * seeds[1]).square().sum() : zeros(1, dtype: ScalarType.Float64));
            var seconds = autograd.grad([loss.sum()], [x.Features, x.Kernel, x.Weight], retain_graph: true, create_graph: true);
            var third = autograd.grad([seconds[0].sum() + seconds[1].square().sum() + seconds[2].sum()], [x.Features, x.Kernel, x.Weight], allow_unused: true);
            return [.. firsts, .. seconds, .. third.Select(t => t is null || t.IsInvalid ? zeros(1, dtype: ScalarType.Float64) : t)];
        }
        var expected = Orders(Plain, marked: false);
        var actual = Orders(Fused, marked: true);
        string[] names = ["first by the features", "first by the kernel", "second by the features", "second by the kernel",
            "second by the weight", "third by the features", "third by the kernel", "third by the weight"];
        for (int i = 0; i < names.Length; i++)
            AssertClose(expected[i], actual[i], names[i]);
    }

    [Test]
    public void TrainingSteps_ReleaseWhatEachBackwardReturned()
    {
        // Many backward calls in one dispose scope: each releases the handles the one before returned, and the
        // gradients reach the leaves all the same.
        var x = RandomInputs(4);
        var total = zeros_like(x.Weight);
        for (int step = 0; step < 3; step++)
        {
            x.Weight.grad?.zero_();
            Fused(x).sum().backward();
            total += x.Weight.grad!;
        }
        var once = autograd.grad([Plain(x).sum()], [x.Weight])[0];
        AssertClose(once * 3, total, "the weight's gradient summed over three steps");
    }

    /// <summary>A .NET exception cannot cross libtorch's autograd engine: the failure must come back as an exception, not end the process.</summary>
    [Test]
    public void AFailingBackward_ReachesTheCallerAsAnException_WithItsCause()
    {
        var x = RandomInputs(5);
        var features = x.Features * 1;
        var output = PointConvSum.Compute(features, x.Rows, x.Kernel, x.Weight, x.Bias);
        features.add_(1);   // a saved input changed in place: the backward pass cannot run
        var engineError = Assert.Catch(() => output.sum().backward());
        var failure = Assert.Throws<InvalidOperationException>(() => CustomBackward.ThrowIfFailed(engineError!));
        Assert.That(failure!.InnerException!.Message, Does.Contain("modified by an inplace operation"));
        Assert.DoesNotThrow(() => CustomBackward.ThrowIfFailed(engineError!), "the failure is reported once");
    }

    [Test]
    public void AFailingBackward_InTraining_StopsFitWithItsCause()
    {
        var x = RandomInputs(6);
        var dense = nn.Linear(In * WeightNet.OutputWidth, Out, dtype: ScalarType.Float64);
        BatchOutput Forward(ToyBatch batch)
        {
            var features = batch.X * 1;
            var output = PointConvSum.Compute(features, x.Rows, x.Kernel, dense.weight!, dense.bias!);
            features.add_(1);
            return new BatchOutput(output, output.square().mean());
        }
        var inputs = randn(Points, In, dtype: ScalarType.Float64);
        using var trainer = new Trainer<ToyBatch>(dense, Forward, new SingleBatch(new ToyBatch(inputs, zeros(1))),
            new TrainerOptions { Epochs = 1, ReportEvery = 0 });
        var failure = Assert.Throws<InvalidOperationException>(() => trainer.Fit());
        Assert.That(failure!.InnerException!.Message, Does.Contain("modified by an inplace operation"));
    }

    private sealed class SingleBatch(ToyBatch batch) : IBatchSource<ToyBatch>
    {
        public int BatchesPerEpoch => 1;
        public IEnumerable<ToyBatch> Batches(int epoch) => [batch];
    }
}
