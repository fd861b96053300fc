using LieConv.Datasets.RotMnist;
using NUnit.Framework;
using TorchSharp;
using static TorchSharp.torch;

namespace LieConv.Tests.Datasets.RotMnist;

/// <summary>
/// <see cref="ImageRotation"/>: exact for multiples of 90°, the identity at 0°, invertible on smooth images, and equal to
/// libtorch's own <c>affine_grid</c> + <c>grid_sample</c> (the functions the original augmentation calls).
/// </summary>
[TestFixture]
public sealed class ImageRotationTests
{
    private const int N = RotMnistImage.Height;

    /// <summary>A real digit (the first built-in test image) with a clear orientation.</summary>
    private static float[] Digit() => RotMnistDataset.BuiltinTest().First().Pixels;

    private static float[] RandomImage(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)random.NextDouble()).ToArray();
    }

    // With θ = [[cos, sin], [−sin, cos]], output (i, j) samples the input at normalised (x', y') = (cos·x + sin·y, −sin·x + cos·y)
    // where x = (2j+1)/n − 1, y = (2i+1)/n − 1. For α = π/2 that is x' = y, y' = −x: column i and row n−1−j. So
    // out[i, j] = in[n−1−j, i], the transpose with its columns reversed (a clockwise quarter turn as displayed, rows down).
    private static float[] TransposeThenFlipColumns(float[] image)
    {
        var result = new float[N * N];
        for (int i = 0; i < N; i++)
        {
            for (int j = 0; j < N; j++)
            {
                result[i * N + j] = image[(N - 1 - j) * N + i];
            }
        }

        return result;
    }

    [Test]
    public void QuarterTurn_OfADigit_IsExactlyItsTransposeWithColumnsReversed()
    {
        var digit = Digit();
        var rotated = ImageRotation.Rotate(digit, N, N, Math.PI / 2);
        var expected = TransposeThenFlipColumns(digit);
        Assert.That(rotated, Is.EqualTo(expected).Within(1e-6f));
        // Stronger than 1e-6: sampling points within 1e-9 px of a pixel centre are snapped onto it, so no neighbour gets a
        // 1e-16 weight from cos(π/2) ≈ 6e-17.
        Assert.That(rotated, Is.EqualTo(expected), "bit-exact");
        Assert.That(rotated, Is.Not.EqualTo(digit), "the digit is not symmetric under a quarter turn");
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(-1)]
    [TestCase(7)]
    public void MultiplesOfAQuarterTurn_AreExactPermutations(int quarterTurns)
    {
        var image = RandomImage(N * N, 11);
        var expected = image;
        for (int k = 0; k < ((quarterTurns % 4) + 4) % 4; k++)
        {
            expected = TransposeThenFlipColumns(expected);
        }

        Assert.That(ImageRotation.Rotate(image, N, N, quarterTurns * Math.PI / 2), Is.EqualTo(expected));
    }

    [Test]
    public void HalfTurn_OfANonSquareMultiChannelImage_ReversesRowsAndColumnsOfEveryChannel()
    {
        const int c = 3, h = 5, w = 7;
        var image = RandomImage(c * h * w, 3);
        var rotated = new float[image.Length];
        ImageRotation.Rotate(image, rotated, c, h, w, Math.PI);
        for (int k = 0; k < c; k++)
        {
            for (int i = 0; i < h; i++)
            {
                for (int j = 0; j < w; j++)
                {
                    Assert.That(rotated[(k * h + i) * w + j], Is.EqualTo(image[(k * h + h - 1 - i) * w + w - 1 - j]), $"channel {k}, pixel ({i}, {j})");
                }
            }
        }
    }

    [Test]
    public void ZeroAngle_IsTheIdentity()
    {
        var digit = Digit();
        Assert.That(ImageRotation.Rotate(digit, N, N, 0), Is.EqualTo(digit));
        var image = RandomImage(2 * 6 * 9, 4);
        var result = new float[image.Length];
        ImageRotation.Rotate(image, result, 2, 6, 9, 0);
        Assert.That(result, Is.EqualTo(image));
    }

    [Test]
    public void RotatingASmoothBlobThereAndBack_RestoresIt()
    {
        // An off-centre Gaussian (σ = 3 px), so that a rotation moves it and bilinear resampling loses little.
        var blob = new float[N * N];
        for (int i = 0; i < N; i++)
        {
            for (int j = 0; j < N; j++)
            {
                double dy = i - 10.0, dx = j - 17.0;
                blob[i * N + j] = (float)Math.Exp(-(dx * dx + dy * dy) / (2 * 3.0 * 3.0));
            }
        }

        const double angle = 1.1;
        var there = ImageRotation.Rotate(blob, N, N, angle);
        var back = ImageRotation.Rotate(there, N, N, -angle);
        Assert.That(MaxAbsDifference(there, blob), Is.GreaterThan(0.5), "the rotation moves the blob");
        Assert.That(MaxAbsDifference(back, blob), Is.LessThan(0.05), "two bilinear resamplings of a σ = 3 px blob");
        Assert.That(back.Sum(), Is.EqualTo(blob.Sum()).Within(0.02 * blob.Sum()), "the blob's mass stays inside the image");
    }

    [TestCase(0.3)]
    [TestCase(1.0)]
    [TestCase(2.5)]
    [TestCase(4.4)]
    [TestCase(6.2)]
    public void Rotate_MatchesLibTorchsAffineGridAndGridSample(double angle)
    {
        var digit = Digit();
        var expected = TorchRotate(digit, 1, N, N, angle);
        Assert.That(MaxAbsDifference(ImageRotation.Rotate(digit, N, N, angle), expected), Is.LessThan(1e-5));
    }

    [Test]
    public void Rotate_OfANonSquareMultiChannelImage_MatchesLibTorch()
    {
        const int c = 2, h = 9, w = 13;
        var image = RandomImage(c * h * w, 8);
        var ours = new float[image.Length];
        ImageRotation.Rotate(image, ours, c, h, w, 0.8);
        Assert.That(MaxAbsDifference(ours, TorchRotate(image, c, h, w, 0.8)), Is.LessThan(1e-5));
    }

    [Test]
    public void Transform_RefusesBadArguments()
    {
        var image = new float[12];
        Assert.That(() => ImageRotation.Rotate(image, image, 1, 3, 4, 1.0), Throws.ArgumentException.With.Message.Contains("overlaps"));
        Assert.That(() => ImageRotation.Rotate(image, new float[11], 1, 3, 4, 1.0), Throws.ArgumentException.With.Message.Contains("1×3×4 = 12"));
        Assert.That(() => ImageRotation.Rotate(new float[10], 3, 4, 1.0), Throws.ArgumentException.With.Message.Contains("expected 1×3×4 = 12"));
        Assert.That(() => ImageRotation.Transform(image, new float[12], 1, 3, 4, [1, 0, 0, 0, 1]), Throws.ArgumentException.With.Message.Contains("6 entries"));
    }

    private static double MaxAbsDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();

    private static float[] TorchRotate(float[] image, int channels, int height, int width, double angle)
    {
        using var scope = NewDisposeScope();
        float cos = (float)Math.Cos(angle), sin = (float)Math.Sin(angle);
        var theta = tensor(new[] { cos, sin, 0f, -sin, cos, 0f }, [1, 2, 3]);
        var input = tensor(image, [1, channels, height, width]);
        var grid = nn.functional.affine_grid(theta, [1, channels, height, width], align_corners: false);
        var output = nn.functional.grid_sample(input, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Zeros, align_corners: false);
        return output.data<float>().ToArray();
    }
}
