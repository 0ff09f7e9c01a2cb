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

  private static void check(ModelSpec spec) {
    int n = 6;
    SplittableRandom rnd = new SplittableRandom(spec.seed() * 31);
    float[] x = new float[n * spec.featureSize()];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
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
    int[] all = IntStream.range(0, n).toArray();
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.sgd(0.1), ComputeOptions.cpu().withThreads(1, 1));
        BatchAssembler assembler = new BatchAssembler(spec, n);
        Batch batch = assembler.assemble(records, all, 0, n, 0, 0)) {
      float[] analytic = new float[model.parameterCount()];
      model.computeGradients(batch, analytic);
      float[] w = model.exportWeights();
      // Central differences at two step sizes. Where they disagree, the step crossed a kink (a
      // max-pool window or ReLU switching sides): that parameter is skipped, and at most one in
      // ten may be. Elsewhere the analytic gradient must match the smaller step.
      double eps = 1e-3;
      int checked = 0;
      int kinks = 0;
      int stride = Math.max(1, w.length / 60);
      for (int i = 0; i < w.length; i += stride) {
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
      assertTrue(checked >= Math.min(w.length, 50), "checked " + checked + " parameters");
      assertEquals(model.lossSum(batch), model.lossSum(batch), "loss is deterministic");
    }
  }

  private static double centralDifference(TrainableModel model, Batch batch, float[] w, int i, double eps) {
    float original = w[i];
    w[i] = (float) (original + eps);
    model.importWeights(w);
    double plus = model.lossSum(batch);
    w[i] = (float) (original - eps);
    model.importWeights(w);
    double minus = model.lossSum(batch);
    w[i] = original;
    model.importWeights(w);
    return (plus - minus) / (2 * eps);
  }

  private static double relativeError(double a, double b) {
    return Math.abs(a - b) / Math.max(1.0, Math.abs(b));
  }
}
