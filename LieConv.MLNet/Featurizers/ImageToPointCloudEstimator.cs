using LieConv.MLNet.MlNet;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace LieConv.MLNet;

/// <summary>
/// The estimator of <see cref="ImageToPointCloudTransformer"/>: nothing is learned, so <see cref="Fit"/> only checks the
/// input column. Create it with <c>mlContext.Transforms.ConvertImageToPointCloud(...)</c>.
/// </summary>
public sealed class ImageToPointCloudEstimator : IEstimator<ImageToPointCloudTransformer>
{
    /// <summary>Settings of <see cref="ImageToPointCloudEstimator"/>.</summary>
    public sealed class Options
    {
        /// <summary>The pixels column: C·H·W Singles per row, channel-major (as <c>ExtractPixels</c> writes them).</summary>
        public string InputColumnName = "Pixels";

        /// <summary>The points column written.</summary>
        public string PointsColumnName = "Points";

        /// <summary>The features column written.</summary>
        public string FeaturesColumnName = "Features";

        /// <summary>Image rows H.</summary>
        public int ImageHeight = 28;

        /// <summary>Image columns W.</summary>
        public int ImageWidth = 28;

        /// <summary>Channels per pixel C.</summary>
        public int Channels = 1;

        /// <summary>Pixels at this distance from the centre or farther are dropped (15 keeps 648 pixels of a 28×28 image, §3.5).</summary>
        public double CropRadius = 15;

        /// <summary>Subtracted from every pixel value (RotMNIST: 0.130, §4.1).</summary>
        public float Mean;

        /// <summary>Divides every pixel value after the mean is subtracted (RotMNIST: 0.297, §4.1).</summary>
        public float Std = 1;
    }

    private readonly IHost _host;
    private readonly Options _options;

    internal ImageToPointCloudEstimator(IHostEnvironment env, Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        _host = env.Register(nameof(ImageToPointCloudEstimator));
        _options = options;
        // Builds (and so checks) a transformer now, so bad settings fail where the pipeline is written.
        _ = new ImageToPointCloudTransformer(env, options);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        SchemaChecks.SingleVector(_host, inputSchema, _options.InputColumnName, "image");
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[_options.PointsColumnName] = new(_options.PointsColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        columns[_options.FeaturesColumnName] = new(_options.FeaturesColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        return new SchemaShape(columns.Values);
    }

    /// <summary>Checks <paramref name="input"/>'s pixels column and returns the transformer.</summary>
    public ImageToPointCloudTransformer Fit(IDataView input)
    {
        _host.CheckValue(input, nameof(input));
        GetOutputSchema(SchemaShape.Create(input.Schema));
        return new ImageToPointCloudTransformer(_host, _options);
    }
}
