using LieConv.Datasets.Springs;
using Microsoft.ML;
using Microsoft.ML.Data;
using NUnit.Framework;

namespace LieConv.Tests.Datasets.Springs;

/// <summary>Training examples from generated systems: seeded chunk choice, the three disjoint splits, and the ML.NET rows.</summary>
[TestFixture]
public sealed class SpringsDatasetTests
{
    // Short trajectories keep generation cheap; 40 steps make 8 chunks of 5.
    private static readonly SpringsGeneratorOptions SmallSet = new() { Systems = 60, Steps = 40, Seed = 3 };

    private static readonly SpringsDatasetOptions SmallSplits = new() { TrainCount = 30, TestCount = 20, ValidationCount = 5, Seed = 9 };

    private SpringSystems _systems = null!;

    [OneTimeSetUp]
    public void Generate() => _systems = SpringsGenerator.Generate(SmallSet);

    [Test]
    public void DefaultSplits_HaveTheOriginalsSizes_AndAreDisjoint()
    {
        // 5200 systems cover the defaults exactly (3000 + 2000 + 200); 5 steps each keep it cheap.
        var systems = SpringsGenerator.Generate(new SpringsGeneratorOptions { Systems = 5200, Steps = 5, Seed = 1 });
        var dataset = new SpringsDataset(systems);

        Assert.That(dataset.Indices(SpringsSplit.Train), Has.Count.EqualTo(3000));
        Assert.That(dataset.Indices(SpringsSplit.Test), Has.Count.EqualTo(2000));
        Assert.That(dataset.Indices(SpringsSplit.Validation), Has.Count.EqualTo(200));
        var all = Enum.GetValues<SpringsSplit>().SelectMany(dataset.Indices).ToList();
        Assert.That(all, Is.Unique);
        Assert.That(all, Is.All.InRange(0, 5199));
        Assert.That(dataset.ChunksPerSystem, Is.EqualTo(1));
    }

    [Test]
    public void InvalidSplitSizesAndChunkLengths_AreRejected()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new SpringsDataset(_systems, SmallSplits with { TrainCount = 40 }));
        Assert.That(error!.Message, Does.Contain("40 + 20 + 5").And.Contain("only 60"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpringsDataset(_systems, SmallSplits with { TestCount = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpringsDataset(_systems, SmallSplits with { ChunkLength = 41 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpringsDataset(_systems, SmallSplits with { ChunkLength = 0 }));
    }

    [Test]
    public void Splits_AreSeeded_AndTheLargestIsDrawnFirst()
    {
        var dataset = new SpringsDataset(_systems, SmallSplits);
        var again = new SpringsDataset(_systems, SmallSplits);
        var otherSeed = new SpringsDataset(_systems, SmallSplits with { Seed = 10 });
        foreach (var split in Enum.GetValues<SpringsSplit>())
            Assert.That(again.Indices(split), Is.EqualTo(dataset.Indices(split)), split.ToString());
        Assert.That(otherSeed.Indices(SpringsSplit.Train), Is.Not.EqualTo(dataset.Indices(SpringsSplit.Train)));

        // Splits are taken largest first, so changing only the smallest one leaves the larger ones as they were...
        var moreValidation = new SpringsDataset(_systems, SmallSplits with { ValidationCount = 8 });
        Assert.That(moreValidation.Indices(SpringsSplit.Train), Is.EqualTo(dataset.Indices(SpringsSplit.Train)));
        Assert.That(moreValidation.Indices(SpringsSplit.Test), Is.EqualTo(dataset.Indices(SpringsSplit.Test)));
        // ...and the first drawn is the first slice of the permutation, whichever split it belongs to.
        var testLargest = new SpringsDataset(_systems, SmallSplits with { TrainCount = 10, TestCount = 30 });
        Assert.That(testLargest.Indices(SpringsSplit.Test), Is.EqualTo(dataset.Indices(SpringsSplit.Train)));
    }

    [Test]
    public void Chunks_AreASeededDrawPerSystem()
    {
        var dataset = new SpringsDataset(_systems, SmallSplits);
        Assert.That(dataset.ChunksPerSystem, Is.EqualTo(8));
        Assert.That(dataset.Chunks, Has.Count.EqualTo(60));
        Assert.That(dataset.Chunks, Is.All.InRange(0, 7));
        Assert.That(dataset.Chunks.Distinct().Count(), Is.GreaterThan(4), "chunks vary across systems");
        Assert.That(new SpringsDataset(_systems, SmallSplits).Chunks, Is.EqualTo(dataset.Chunks), "same seed, same chunks (the original re-drew them at every load)");
        Assert.That(new SpringsDataset(_systems, SmallSplits with { Seed = 10 }).Chunks, Is.Not.EqualTo(dataset.Chunks));
    }

    [Test]
    public void Example_HoldsTheChosenChunkOfItsSystem()
    {
        var dataset = new SpringsDataset(_systems, SmallSplits);
        int stateSize = _systems.StateSize;
        foreach (int system in new[] { 0, 17, 59 })
        {
            var example = dataset.Example(system);
            int chunk = dataset.Chunks[system];
            var trajectory = _systems.Trajectory(system).ToArray();
            var times = _systems.Times.ToArray();

            Assert.That(example.SystemIndex, Is.EqualTo(system));
            Assert.That(example.ChunkIndex, Is.EqualTo(chunk));
            Assert.That(example.Trajectory, Has.Length.EqualTo(5 * stateSize));
            Assert.That(example.Trajectory, Is.EqualTo(trajectory.Skip(chunk * 5 * stateSize).Take(5 * stateSize).Select(v => (float)v)));
            Assert.That(example.InitialState, Is.EqualTo(example.Trajectory.Take(stateSize)));
            Assert.That(example.Times, Is.EqualTo(times.Skip(chunk * 5).Take(5).Select(v => (float)v)));
            Assert.That(example.SystemParameters, Is.EqualTo(_systems.SystemParameters(system).ToArray().Select(v => (float)v)));
        }
    }

    [Test]
    public void Examples_AreLazy_AndRepeatable()
    {
        var dataset = new SpringsDataset(_systems, SmallSplits);
        var rows = dataset.Examples(SpringsSplit.Test);
        Assert.That(rows, Is.Not.InstanceOf<System.Collections.ICollection>());
        Assert.That(rows.Select(r => r.SystemIndex), Is.EqualTo(dataset.Indices(SpringsSplit.Test)));
        Assert.That(rows.Select(r => r.Trajectory[3]), Is.EqualTo(rows.Select(r => r.Trajectory[3])));
    }

    [TestCase(6, 2)]
    [TestCase(3, 3)]
    public void MlNetRows_HaveVectorSizesThatFollowNAndD(int n, int d)
    {
        var systems = n == 6 && d == 2 ? _systems : SpringsGenerator.Generate(SmallSet with { Particles = n, Dimension = d });
        var dataset = new SpringsDataset(systems, SmallSplits);
        var ml = new MLContext(seed: 0);
        var view = ml.Data.LoadFromEnumerable(dataset.Examples(SpringsSplit.Validation), dataset.CreateSchemaDefinition());

        int stateSize = 2 * n * d;
        AssertVector(view.Schema, nameof(SpringsExample.InitialState), stateSize);
        AssertVector(view.Schema, nameof(SpringsExample.SystemParameters), n, 2);
        AssertVector(view.Schema, nameof(SpringsExample.Times), 5);
        AssertVector(view.Schema, nameof(SpringsExample.Trajectory), 5, stateSize);

        var back = ml.Data.CreateEnumerable<SpringsExample>(view, reuseRowObject: false).ToList();
        var expected = dataset.Examples(SpringsSplit.Validation).ToList();
        Assert.That(back, Has.Count.EqualTo(5));
        for (int i = 0; i < back.Count; i++)
        {
            Assert.That(back[i].SystemIndex, Is.EqualTo(expected[i].SystemIndex));
            Assert.That(back[i].Trajectory, Is.EqualTo(expected[i].Trajectory));
            Assert.That(back[i].SystemParameters, Is.EqualTo(expected[i].SystemParameters));
        }
    }

    private static void AssertVector(DataViewSchema schema, string column, params int[] dimensions)
    {
        var type = schema[column].Type as VectorDataViewType;
        Assert.That(type, Is.Not.Null, column);
        Assert.That(type!.ItemType, Is.EqualTo(NumberDataViewType.Single), column);
        Assert.That(type.Size, Is.EqualTo(dimensions.Aggregate(1, (a, b) => a * b)), column);
        Assert.That(type.Dimensions.ToArray(), Is.EqualTo(dimensions), column);
    }
}
