using LieConv.MLNet;
using LieConv.MLNet.Data;
using LieConv.MLNet.MlNet;
using LieConv.Models;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(ImageToPointCloudTransformer), null, typeof(SignatureLoadModel),
    "Image To Point Cloud Transformer", ImageToPointCloudTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IRowMapper), typeof(ImageToPointCloudTransformer), null, typeof(SignatureLoadRowMapper),
    "Image To Point Cloud Transformer", ImageToPointCloudTransformer.LoaderSignature)]

namespace LieConv.MLNet;

/// <summary>
/// Turns images into point clouds as the original's image network does (reference §3.5): the pixels within
/// <see cref="CropRadius"/> of the centre become points at their grid coordinates (first coordinate the row), and
/// their channel values, normalised as (x − <see cref="Mean"/>) / <see cref="Std"/>, become the per-point features.
/// </summary>
/// <remarks>
/// Adds a points column of type <c>Vector&lt;Single, N, 2&gt;</c> and a features column <c>Vector&lt;Single, N, C&gt;</c>,
/// the layout the LieConv trainers read. Every image gives the same points, so the image's symmetries act on the
/// features' positions only through the grid (a rotation by 90° permutes the points exactly).
/// </remarks>
public sealed class ImageToPointCloudTransformer : FeaturizerTransformerBase
{
    internal const string LoaderSignature = "LieConvImageToCloud";

    private readonly ImageGrid _grid;

    internal ImageToPointCloudTransformer(IHostEnvironment env, ImageToPointCloudEstimator.Options options)
        : base(env, nameof(ImageToPointCloudTransformer))
    {
        Host.CheckUserArg(!string.IsNullOrEmpty(options.InputColumnName), nameof(options.InputColumnName));
        Host.CheckUserArg(!string.IsNullOrEmpty(options.PointsColumnName), nameof(options.PointsColumnName));
        Host.CheckUserArg(!string.IsNullOrEmpty(options.FeaturesColumnName), nameof(options.FeaturesColumnName));
        Host.CheckUserArg(options.PointsColumnName != options.FeaturesColumnName, nameof(options.FeaturesColumnName), "The points and features columns need different names.");
        Host.CheckUserArg(options.ImageHeight >= 1, nameof(options.ImageHeight), "The height must be positive.");
        Host.CheckUserArg(options.ImageWidth >= 1, nameof(options.ImageWidth), "The width must be positive.");
        Host.CheckUserArg(options.Channels >= 1, nameof(options.Channels), "At least one channel is needed.");
        Host.CheckUserArg(options.CropRadius > 0 && double.IsFinite(options.CropRadius), nameof(options.CropRadius), "The crop radius must be positive and finite.");
        Host.CheckUserArg(float.IsFinite(options.Mean), nameof(options.Mean), "The mean must be finite.");
        Host.CheckUserArg(options.Std > 0 && float.IsFinite(options.Std), nameof(options.Std), "The standard deviation must be positive and finite.");
        try
        {
            _grid = ImageGrid.Create(options.ImageHeight, options.ImageWidth, options.CropRadius);
        }
        catch (ArgumentException e)
        {
            throw Host.ExceptUserArg(nameof(options.CropRadius), e.Message);
        }
        InputColumnName = options.InputColumnName;
        PointsColumnName = options.PointsColumnName;
        FeaturesColumnName = options.FeaturesColumnName;
        Channels = options.Channels;
        Mean = options.Mean;
        Std = options.Std;
    }

    /// <summary>The pixels column read: C·H·W Singles, channel-major.</summary>
    public string InputColumnName { get; }

    /// <summary>The points column written.</summary>
    public string PointsColumnName { get; }

    /// <summary>The features column written.</summary>
    public string FeaturesColumnName { get; }

    /// <summary>Image rows H.</summary>
    public int ImageHeight => _grid.Height;

    /// <summary>Image columns W.</summary>
    public int ImageWidth => _grid.Width;

    /// <summary>Channels per pixel C.</summary>
    public int Channels { get; }

    /// <summary>Pixels at this distance from the centre or farther are dropped.</summary>
    public double CropRadius => _grid.CropRadius;

    /// <summary>Subtracted from every pixel value.</summary>
    public float Mean { get; }

    /// <summary>Divides every pixel value after the mean is subtracted.</summary>
    public float Std { get; }

    /// <summary>The number of points N of every cloud.</summary>
    public int PointCount => _grid.PointCount;

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "LIECVIMG",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(ImageToPointCloudTransformer).Assembly.FullName,
        loaderSignature: LoaderSignature);

    internal override void SaveModel(ModelSaveContext ctx)
    {
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveNonEmptyString(InputColumnName);
        ctx.SaveNonEmptyString(PointsColumnName);
        ctx.SaveNonEmptyString(FeaturesColumnName);
        ctx.Writer.Write(ImageHeight);
        ctx.Writer.Write(ImageWidth);
        ctx.Writer.Write(Channels);
        ctx.Writer.Write(CropRadius);
        ctx.Writer.Write(Mean);
        ctx.Writer.Write(Std);
    }

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadModel).
    private static ImageToPointCloudTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ArgumentNullException.ThrowIfNull(env);
        env.CheckValue(ctx, nameof(ctx));
        ModelVersions.Check(ctx, GetVersionInfo(), "image-to-point-cloud transformer");
        var options = new ImageToPointCloudEstimator.Options
        {
            InputColumnName = ctx.LoadNonEmptyString(),
            PointsColumnName = ctx.LoadNonEmptyString(),
            FeaturesColumnName = ctx.LoadNonEmptyString(),
            ImageHeight = ctx.Reader.ReadInt32(),
            ImageWidth = ctx.Reader.ReadInt32(),
            Channels = ctx.Reader.ReadInt32(),
            CropRadius = ctx.Reader.ReadDouble(),
            Mean = ctx.Reader.ReadSingle(),
            Std = ctx.Reader.ReadSingle(),
        };
        return new ImageToPointCloudTransformer(env, options);
    }

    // Called by ML.NET through the LoadableClass attribute (SignatureLoadRowMapper).
    private static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).MakeMapper(inputSchema);

    private protected override IRowMapper MakeMapper(DataViewSchema inputSchema)
        => new Mapper(this, SchemaChecks.SingleVector(Host, inputSchema, InputColumnName, "image"));

    private sealed class Mapper(ImageToPointCloudTransformer parent, DataViewSchema.Column input) : MapperBase(parent, input)
    {
        private readonly float[] _points = parent._grid.Coordinates.ToArray().Select(v => (float)v).ToArray();

        public override DataViewSchema.DetachedColumn[] GetOutputColumns() =>
        [
            new(parent.PointsColumnName, new VectorDataViewType(NumberDataViewType.Single, parent.PointCount, 2)),
            new(parent.FeaturesColumnName, new VectorDataViewType(NumberDataViewType.Single, parent.PointCount, parent.Channels)),
        ];

        protected override float[][] Map(ReadOnlySpan<float> image, long row)
        {
            int expected = parent.Channels * parent.ImageHeight * parent.ImageWidth;
            if (image.Length != expected)
                throw PointCloudChecks.BadRow(Input.Name, row, $"has {image.Length} values",
                    $"C·H·W = {parent.Channels}·{parent.ImageHeight}·{parent.ImageWidth} = {expected} pixel values, channel-major");
            PointCloudChecks.Finite(image, parent.ImageHeight * parent.ImageWidth, Input.Name, row, "pixel values (the point index is the channel)");
            var features = new float[parent.PointCount * parent.Channels];
            parent._grid.Featurize(image, parent.Channels, parent.Mean, parent.Std, features);
            return [_points, features];
        }
    }
}
