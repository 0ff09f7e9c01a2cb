package ai.bios.tf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.InvalidSettingException;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.InMemoryRecords;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Sample weights, class weights and label smoothing ({@link LossOptions}) change the loss exactly as defined. */
class LossWeightsTest {
  private static final ModelSpec SOFTMAX = ModelSpec.builder(4).dense(5, Activation.TANH).dense(3, Activation.NONE)
      .loss(Loss.SOFTMAX_CROSS_ENTROPY).seed(21).build();
  private static final ModelSpec SIGMOID = ModelSpec.builder(4).dense(5, Activation.TANH).dense(1, Activation.NONE)
      .loss(Loss.SIGMOID_CROSS_ENTROPY).seed(22).build();
  private static final LossOptions SAMPLE = new LossOptions(true, null, 0.0);

  /** The loss sum, weight sum and gradient sums of {@code records} in one batch. */
  private record Pass(double lossSum, double weightSum, float[] gradients) {
    float[] mean() {
      float[] m = gradients.clone();
      for (int i = 0; i < m.length; i++) {
        m[i] /= (float) weightSum;
      }
      return m;
    }
  }

  private static Pass pass(ModelSpec spec, LossOptions options, InMemoryRecords records) {
    int n = records.size();
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.sgd(0.1), ComputeOptions.cpu().withThreads(1, 1), options);
        BatchAssembler assembler = new BatchAssembler(spec, n, options.sampleWeights());
        Batch batch = assembler.assemble(records, IntStream.range(0, n).toArray(), 0, n, 0, 0)) {
      float[] g = new float[model.parameterCount()];
      TrainableModel.GradientStats stats = model.computeGradients(batch, g, 0, 0);
      assertEquals(stats.lossSum(), model.lossSum(batch), 1e-5 * Math.max(1, Math.abs(stats.lossSum())),
          "the loss without gradients is the same weighted loss");
      return new Pass(stats.lossSum(), stats.weightSum(), g);
    }
  }

  private static float[] features(int n, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] x = new float[n * 4];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rnd.nextGaussian();
    }
    return x;
  }

  /** Records {@code picked} of (x, y), in that order. */
  private static InMemoryRecords pick(float[] x, float[] y, int[] picked) {
    float[] px = new float[picked.length * 4];
    float[] py = new float[picked.length];
    for (int i = 0; i < picked.length; i++) {
      System.arraycopy(x, picked[i] * 4, px, i * 4, 4);
      py[i] = y[picked[i]];
    }
    return new InMemoryRecords(px, 4, py, 1);
  }

  private static void assertClose(float[] expected, float[] actual, String what) {
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 1e-5 * Math.max(1, Math.abs(expected[i])), what + " [" + i + "]");
    }
  }

  @Test
  void integerWeightsEqualDuplicatedRecordsAndWeightZeroEqualsDroppingTheRecord() {
    float[] x = features(5, 1);
    float[] y = {0, 2, 1, 1, 0};
    float[] w = {2, 0, 1, 3, 1};
    Pass weighted = pass(SOFTMAX, SAMPLE, new InMemoryRecords(x, 4, y, 1).withWeights(w));
    // record 0 twice, record 1 dropped, record 3 three times
    Pass duplicated = pass(SOFTMAX, LossOptions.NONE, pick(x, y, new int[] {0, 0, 2, 3, 3, 3, 4}));
    assertEquals(7.0, weighted.weightSum(), "the weight sum is the divisor");
    assertEquals(7.0, duplicated.weightSum(), "unweighted: the weight sum is the count");
    assertEquals(duplicated.lossSum(), weighted.lossSum(), 1e-5 * duplicated.lossSum());
    assertClose(duplicated.mean(), weighted.mean(), "mean gradient");
    assertTrue(weighted.lossSum() != pass(SOFTMAX, LossOptions.NONE, new InMemoryRecords(x, 4, y, 1)).lossSum(),
        "the weights change the loss");
  }

  @Test
  void classWeightsEqualTheCorrespondingSampleWeights() {
    float[] x = features(6, 2);
    float[] y = {0, 2, 1, 1, 0, 2};
    float[] cw = {1.0f, 3.0f, 0.5f};
    float[] sample = new float[6];
    float[] both = new float[6];
    for (int i = 0; i < 6; i++) {
      sample[i] = cw[(int) y[i]];
      both[i] = 2.0f * sample[i];
    }
    Pass byClass = pass(SOFTMAX, new LossOptions(false, cw, 0.0), new InMemoryRecords(x, 4, y, 1));
    Pass bySample = pass(SOFTMAX, SAMPLE, new InMemoryRecords(x, 4, y, 1).withWeights(sample));
    assertEquals(bySample.weightSum(), byClass.weightSum(), 1e-6);
    assertEquals(bySample.lossSum(), byClass.lossSum(), 1e-5 * bySample.lossSum());
    assertClose(bySample.mean(), byClass.mean(), "softmax mean gradient");
    // combined: sample weight 2 times the class weight
    float[] twos = new float[6];
    java.util.Arrays.fill(twos, 2f);
    Pass combined = pass(SOFTMAX, new LossOptions(true, cw, 0.0), new InMemoryRecords(x, 4, y, 1).withWeights(twos));
    Pass expected = pass(SOFTMAX, SAMPLE, new InMemoryRecords(x, 4, y, 1).withWeights(both));
    assertEquals(expected.lossSum(), combined.lossSum(), 1e-5 * expected.lossSum());
    assertEquals(expected.weightSum(), combined.weightSum(), 1e-6);

    float[] yb = {0, 1, 1, 0, 1, 0};
    float[] negPos = {0.25f, 4f};
    float[] sb = new float[6];
    for (int i = 0; i < 6; i++) {
      sb[i] = negPos[(int) yb[i]];
    }
    Pass sigClass = pass(SIGMOID, new LossOptions(false, negPos, 0.0), new InMemoryRecords(x, 4, yb, 1));
    Pass sigSample = pass(SIGMOID, SAMPLE, new InMemoryRecords(x, 4, yb, 1).withWeights(sb));
    assertEquals(sigSample.lossSum(), sigClass.lossSum(), 1e-5 * sigSample.lossSum());
    assertEquals(sigSample.weightSum(), sigClass.weightSum(), 1e-6);
    assertClose(sigSample.mean(), sigClass.mean(), "sigmoid mean gradient");
  }

  @Test
  void labelSmoothingGivesTheHandComputedCrossEntropy() {
    float[] x = features(4, 3);
    float[] y = {0, 2, 1, 2};
    double e = 0.2;
    InMemoryRecords records = new InMemoryRecords(x, 4, y, 1);
    try (TrainableModel model = new TrainableModel(SOFTMAX, OptimizerSpec.sgd(0.1), ComputeOptions.cpu(),
            new LossOptions(false, null, e));
        BatchAssembler assembler = new BatchAssembler(SOFTMAX, 4);
        Batch batch = assembler.assemble(records, new int[] {0, 1, 2, 3}, 0, 4, 0, 0)) {
      float[] p = model.predict(batch.features());
      double expected = 0;
      for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 3; k++) {
          double target = (1 - e) * (k == (int) y[i] ? 1 : 0) + e / 3;
          expected -= target * Math.log(p[i * 3 + k]);
        }
      }
      assertEquals(expected, model.lossSum(batch), 1e-5 * expected, "softmax: targets (1-e)*onehot + e/K");
    }
    float[] yb = {0, 1, 1, 0};
    InMemoryRecords binary = new InMemoryRecords(x, 4, yb, 1);
    try (TrainableModel model = new TrainableModel(SIGMOID, OptimizerSpec.sgd(0.1), ComputeOptions.cpu(),
            new LossOptions(false, null, e));
        BatchAssembler assembler = new BatchAssembler(SIGMOID, 4);
        Batch batch = assembler.assemble(binary, new int[] {0, 1, 2, 3}, 0, 4, 0, 0)) {
      float[] p = model.predict(batch.features());
      double expected = 0;
      for (int i = 0; i < 4; i++) {
        double t = yb[i] * (1 - e) + e / 2;
        expected -= t * Math.log(p[i]) + (1 - t) * Math.log(1 - p[i]);
      }
      assertEquals(expected, model.lossSum(batch), 1e-5 * expected, "sigmoid: targets y*(1-e) + e/2");
    }
  }

  @Test
  void withoutOptionsTheModelIsBitwiseTheUnweightedOne() {
    float[] x = features(5, 4);
    float[] y = {0, 2, 1, 1, 0};
    Pass plain = pass(SOFTMAX, LossOptions.NONE, new InMemoryRecords(x, 4, y, 1));
    try (TrainableModel model = new TrainableModel(SOFTMAX, OptimizerSpec.sgd(0.1), ComputeOptions.cpu().withThreads(1, 1));
        BatchAssembler assembler = new BatchAssembler(SOFTMAX, 5);
        Batch batch = assembler.assemble(new InMemoryRecords(x, 4, y, 1), new int[] {0, 1, 2, 3, 4}, 0, 5, 0, 0)) {
      float[] g = new float[model.parameterCount()];
      assertEquals(plain.lossSum(), model.computeGradients(batch, g, 0, 0).lossSum());
      org.junit.jupiter.api.Assertions.assertArrayEquals(plain.gradients(), g);
    }
  }

  @Test
  void badLossSettingsNameTheSettingAndTheFix() {
    InvalidSettingException count = assertThrows(InvalidSettingException.class,
        () -> new LossOptions(false, new float[] {1, 2}, 0).requireFits(SOFTMAX));
    assertTrue(count.getMessage().contains("classWeights") && count.getMessage().contains("3 classes"), count.getMessage());
    InvalidSettingException negative = assertThrows(InvalidSettingException.class,
        () -> new LossOptions(false, new float[] {1, -2, 1}, 0));
    assertTrue(negative.getMessage().contains(">= 0"), negative.getMessage());
    InvalidSettingException text = assertThrows(InvalidSettingException.class,
        () -> LossOptions.parseClassWeights("1.0,abc"));
    assertTrue(text.getMessage().contains("'abc' is not a number"), text.getMessage());
    for (double bad : new double[] {-0.1, 1.0, Double.NaN}) {
      InvalidSettingException s = assertThrows(InvalidSettingException.class, () -> new LossOptions(false, null, bad));
      assertTrue(s.getMessage().contains("labelSmoothing") && s.getMessage().contains("[0, 1)"), s.getMessage());
    }
    ModelSpec mse = ModelSpec.builder(4).dense(1, Activation.NONE).loss(Loss.MEAN_SQUARED_ERROR).build();
    InvalidSettingException smoothMse = assertThrows(InvalidSettingException.class,
        () -> new TrainableModel(mse, OptimizerSpec.sgd(0.1), ComputeOptions.cpu(), new LossOptions(false, null, 0.1)));
    assertTrue(smoothMse.getMessage().contains("squared error"), smoothMse.getMessage());
    InvalidSettingException weightMse = assertThrows(InvalidSettingException.class,
        () -> new LossOptions(false, new float[] {1, 2}, 0).requireFits(mse));
    assertTrue(weightMse.getMessage().contains("weight column"), weightMse.getMessage());
    assertEquals(2, LossOptions.parseClassWeights(" 1.0, 3 ").length);
    assertEquals(null, LossOptions.parseClassWeights(""));
  }
}
