using NUnit.Framework;

namespace LieConv.Tests.MLNet;

/// <summary>A fresh temporary folder per test (for model.zip files), deleted afterwards.</summary>
public abstract class TempFolderFixture
{
    /// <summary>The current test's folder.</summary>
    protected string Folder { get; private set; } = "";

    [SetUp]
    public void CreateFolder()
    {
        Folder = Path.Combine(Path.GetTempPath(), "lieconv-mlnet-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(Folder))
            Directory.Delete(Folder, recursive: true);
    }
}
