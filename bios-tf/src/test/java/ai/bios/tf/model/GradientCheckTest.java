package ai.bios.tf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.InMemoryRecords;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Every layer type and every loss: the gradients TensorFlow computes for the loss SUM match central
 * finite differences of the loss, parameter by parameter.
 */
class GradientCheckTest {

  @Test
  void denseLayersWithEveryActivationAndSoftmaxLossMatchFiniteDifferences() {
    check(ModelSpec.builder(5)
        .dense(6, Activation.TANH).dense(4, Activation.SIGMOID).dense(4, Activation.RELU)
        .dense(3, Activation.NONE).loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(3).build());
  }

  @Test
  void sigmoidCrossEntropyMatchesFiniteDifferences() {
    check(ModelSpec.builder(4).dense(5, Activation.TANH).dense(2, Activation.NONE)
        .loss(Loss.SIGMOID_CROSS_ENTROPY).seed(4).build());
  }

  @Test
  void meanSquaredErrorMatchesFiniteDifferences() {
    check(ModelSpec.builder(4).dense(5, Activation.TANH).dense(2, Activation.NONE)
        .loss(Loss.MEAN_SQUARED_ERROR).seed(5).build());
  }

  @Test
  void convolutionMaxPoolingAndFlattenMatchFiniteDifferences() {
    check(ModelSpec.builder(6, 6, 2)
        .conv2d(3, 3, 1, LayerSpec.Padding.SAME, Activation.TANH)
        .maxPool(2, 2).flatten().dense(3, Activation.NONE)
        .loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(6).build());
  }

  @Test
  void stridedValidConvolutionAndAveragePoolingMatchFiniteDifferences() {
    check(ModelSpec.builder(7, 7, 1)
        .conv2d(2, 3, 2, LayerSpec.Padding.VALID, Activation.SIGMOID)
        .avgPool(2, 1).flatten().dense(2, Activation.NONE)
        .loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(7).build());
  }

  @Test
  void embeddingsOfCategoricalColumnsNextToNumericOnesMatchFiniteDifferences() {
    check(ModelSpec.builder(5)
        .featureColumns(LayerSpec.numeric("age", 0, 2), LayerSpec.categorical("colour", 2, 4, 3),
            LayerSpec.numeric("height", 3, 1), LayerSpec.categorical("shape", 4, 3, 2))
        .dense(4, Activation.TANH).dense(3, Activation.NONE)
        .loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(8).build());
  }

  @Test
  void layerNormalisationMatchesFiniteDifferences() {
    check(ModelSpec.builder(5).dense(6, Activation.TANH).layerNorm().dense(2, Activation.NONE)
        .loss(Loss.MEAN_SQUARED_ERROR).seed(9).build());
  }

  @Test
  void batchNormalisationInTrainingModeMatchesFiniteDifferences() {
    // The training pass normalises with the batch's own moments; the gradient flows through them.
    check(ModelSpec.builder(4).dense(5, Activation.TANH).batchNorm(0.9).dense(2, Activation.NONE)
        .loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(10).build());
    check(ModelSpec.builder(5, 5, 2).conv2d(3, 3, 1, LayerSpec.Padding.SAME, Activation.TANH).batchNorm()
        .flatten().dense(2, Activation.NONE).loss(Loss.MEAN_SQUARED_ERROR).seed(11).build());
  }

  @Test
  void dropoutWithAFixedStepAndRankMatchesFiniteDifferences() {
    check(ModelSpec.builder(5).dense(8, Activation.TANH).dropout(0.4).dense(2, Activation.NONE)
        .loss(Loss.MEAN_SQUARED_ERROR).seed(12).build());
  }

  @Test
  void conv1dOverAnEmbeddedTokenSequenceMatchesFiniteDifferences() {
    check(ModelSpec.builder(7)
        .featureColumns(LayerSpec.sequence("tokens", 0, 7, 5, 3))
        .conv1d(4, 3, 1, LayerSpec.Padding.VALID, Activation.TANH)
        .conv1d(3, 2, 2, LayerSpec.Padding.SAME, Activation.NONE)
        .flatten().dense(2, Activation.NONE)
        .loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(13).build());
  }

  @Test
  void residualBlocksMatchFiniteDifferences() {
    check(ModelSpec.builder(4).dense(5, Activation.TANH)
        .residual(new LayerSpec.Dense(6, Activation.TANH), new LayerSpec.LayerNorm(),
            new LayerSpec.Dense(5, Activation.NONE))
        .dense(2, Activation.NONE).loss(Loss.MEAN_SQUARED_ERROR).seed(14).build());
  }

  @Test
  void globalAveragePoolingOverImagesAndSequencesMatchesFiniteDifferences() {
    check(ModelSpec.builder(5, 5, 1).conv2d(3, 3, 1, LayerSpec.Padding.SAME, Activation.TANH)
        .globalAvgPool().dense(2, Activation.NONE).loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(15).build());
    check(ModelSpec.builder(6).featureColumns(LayerSpec.sequence("tokens", 0, 6, 4, 3))
        .conv1d(4, 2, 1, LayerSpec.Padding.SAME, Activation.TANH)
        .globalAvgPool().dense(2, Activation.NONE).loss(Loss.MEAN_SQUARED_ERROR).seed(16).build());
  }

  @Test
  void sampleAndClassWeightedLabelSmoothedLossesMatchFiniteDifferences() {
    check(ModelSpec.builder(5).dense(6, Activation.TANH).dense(3, Activation.NONE)
        .loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(17).build(), new LossOptions(true, new float[] {1f, 2.5f, 0.5f}, 0.1));
    check(ModelSpec.builder(4).dense(5, Activation.TANH).dense(1, Activation.NONE)
        .loss(Loss.SIGMOID_CROSS_ENTROPY).seed(18).build(), new LossOptions(true, new float[] {0.3f, 2f}, 0.2));
  }

  /** Category ids per feature (0 where the feature is numeric). */
  private static int[] idCardinality(ModelSpec spec) {
    int[] card = new int[spec.featureSize()];
    for (LayerSpec.Column c : spec.featureColumns()) {
      int k = c instanceof LayerSpec.Categorical cat ? cat.cardinality()
          : c instanceof LayerSpec.Sequence seq ? seq.cardinality() : 0;
      for (int i = c.first(); i < c.first() + c.width(); i++) {
        card[i] = k;
      }
    }
    return card;
  }

  static void check(ModelSpec spec) {
    check(spec, LossOptions.NONE);
  }

  /** With sample weights, records get weights in [0, 3). */
  static void check(ModelSpec spec, LossOptions options) {
    int n = 6;
    SplittableRandom rnd = new SplittableRandom(spec.seed() * 31);
    float[] x = new float[n * spec.featureSize()];
    int[] ids = idCardinality(spec);
    for (int i = 0; i < x.length; i++) {
      int card = ids[i % spec.featureSize()];
      x[i] = card > 0 ? rnd.nextInt(card) : (float) rnd.nextGaussian();
    }
    float[] y = new float[n * spec.labelWidth()];
    for (int i = 0; i < y.length; i++) {
      y[i] = switch (spec.loss()) {
        case SOFTMAX_CROSS_ENTROPY -> rnd.nextInt(spec.outputs());
        case SIGMOID_CROSS_ENTROPY -> rnd.nextInt(2);
        case MEAN_SQUARED_ERROR -> (float) rnd.nextGaussian();
      };
    }
    InMemoryRecords records = new InMemoryRecords(x, spec.featureSize(), y, spec.labelWidth());
    if (options.sampleWeights()) {
      float[] weights = new float[n];
      for (int i = 0; i < n; i++) {
        weights[i] = (float) (rnd.nextDouble() * 3);
      }
      records = records.withWeights(weights);
    }
    int[] all = IntStream.range(0, n).toArray();
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.sgd(0.1), ComputeOptions.cpu().withThreads(1, 1),
            options);
        BatchAssembler assembler = new BatchAssembler(spec, n, options.sampleWeights());
        Batch batch = assembler.assemble(records, all, 0, n, 0, 0)) {
      float[] analytic = new float[model.parameterCount()];
      model.computeGradients(batch, analytic, 0, 0);
      float[] w = model.exportWeights();
      // Central differences at two step sizes. Where they disagree, the step crossed a kink (a
      // max-pool window or ReLU switching sides): that parameter is skipped, and at most one in
      // ten may be. Elsewhere the analytic gradient must match the smaller step.
      double eps = 1e-3;
      int checked = 0;
      int kinks = 0;
      // Only the trainable parameters: batch norm's moving statistics follow them in the buffers.
      int trainable = model.trainableParameterCount();
      int stride = Math.max(1, trainable / 60);
      for (int i = 0; i < trainable; i += stride) {
        double coarse = centralDifference(model, batch, w, i, eps);
        double fine = centralDifference(model, batch, w, i, eps / 4);
        checked++;
        if (relativeError(coarse, fine) > 1e-2) {
          kinks++;
          continue;
        }
        assertTrue(relativeError(fine, analytic[i]) < 1e-2, "parameter " + i + " of " + spec
            + ": analytic " + analytic[i] + ", finite difference " + fine);
      }
      assertTrue(kinks * 10 <= checked, kinks + " of " + checked + " parameters sat on a kink");
      model.importWeights(w);
      assertTrue(checked >= Math.min(trainable, 50), "checked " + checked + " parameters");
      assertEquals(trainingLoss(model, batch), trainingLoss(model, batch), "loss is deterministic");
    }
  }

  private static double centralDifference(TrainableModel model, Batch batch, float[] w, int i, double eps) {
    float original = w[i];
    w[i] = (float) (original + eps);
    model.importWeights(w);
    double plus = trainingLoss(model, batch);
    w[i] = (float) (original - eps);
    model.importWeights(w);
    double minus = trainingLoss(model, batch);
    w[i] = original;
    model.importWeights(w);
    return (plus - minus) / (2 * eps);
  }

  /**
   * The loss the gradients are of: the training pass at a fixed step and rank (the same dropout
   * masks; batch norm with the batch's moments). Without those layers it is {@code lossSum}.
   */
  private static double trainingLoss(TrainableModel model, Batch batch) {
    return model.computeGradients(batch, new float[model.parameterCount()], 0, 0).lossSum();
  }

  private static double relativeError(double a, double b) {
    return Math.abs(a - b) / Math.max(1.0, Math.abs(b));
  }
}
