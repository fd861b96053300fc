namespace LieConv.Datasets.RotMnist;

/// <summary>The train and test images of a RotMNIST set, each a lazy, re-enumerable sequence.</summary>
/// <param name="Train">The training images.</param>
/// <param name="Test">The test images.</param>
public sealed record RotMnistSplits(IEnumerable<RotMnistImage> Train, IEnumerable<RotMnistImage> Test);
