using LieConv.MLNet;
using LieConv.MLNet.MlNet;

// In Microsoft.ML, beside LieConvCatalog, so that `using Microsoft.ML;` alone makes
// mlContext.Regression.Trainers.LieConvDynamics(...) discoverable.
namespace Microsoft.ML;

/// <summary>
/// The catalog extension that creates a <see cref="LieConvDynamicsTrainer"/>. It lives on the regression trainers:
/// predicting a trajectory is multi-output regression, ML.NET has no dynamics catalog to extend, and a new
/// <c>mlContext.Dynamics()</c> entry point would need an environment accessor of our own for no gain.
/// </summary>
public static class LieConvDynamicsCatalog
{
    /// <summary>Creates a <see cref="LieConvDynamicsTrainer"/> with every setting given.</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="options">The trainer's settings.</param>
    public static LieConvDynamicsTrainer LieConvDynamics(this RegressionCatalog.RegressionTrainers catalog, LieConvDynamicsTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new LieConvDynamicsTrainer(catalog.GetHostEnvironment(), options);
    }

    /// <summary>Creates a <see cref="LieConvDynamicsTrainer"/> for the SpringsExample column names, with train_springs' defaults otherwise.</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="network">FC, HFC, HLieResNet, FLieResNet, OGN, HOGN or VOGN.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Systems per optimiser step.</param>
    /// <param name="learningRate">Adam's base learning rate.</param>
    /// <param name="validationSet">Evaluated after every epoch, or <see langword="null"/>.</param>
    public static LieConvDynamicsTrainer LieConvDynamics(this RegressionCatalog.RegressionTrainers catalog,
        string network = "FC", int epochs = 2, int batchSize = 200, double learningRate = 1e-2, IDataView? validationSet = null)
        => LieConvDynamics(catalog, new LieConvDynamicsTrainer.Options
        {
            Network = network,
            Epochs = epochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
            ValidationSet = validationSet,
        });
}
