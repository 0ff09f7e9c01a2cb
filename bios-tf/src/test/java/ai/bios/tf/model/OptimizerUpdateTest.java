package ai.bios.tf.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.InvalidSettingException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The optimizers' first updates against a hand computation in Java (double), on one dense layer
 * 3 -> 2 (6 kernel values, then 2 biases) fed known gradient sums; L2, clipping and AdamW's
 * decoupled decay as defined in {@link OptimizerSpec}; and the optimizer state as a checkpoint holds it.
 */
class OptimizerUpdateTest {
  private static final ModelSpec DENSE = ModelSpec.builder(3).dense(2, Activation.NONE).seed(5).build();
  private static final int KERNEL = 6;
  /** Start weights: kernels of both signs and sizes, non-zero biases (so decay of biases would show). */
  private static final float[] W0 = {0.5f, -1.25f, 2f, -0.75f, 0.125f, 1.5f, 0.3f, -0.2f};
  /** Gradient sums of two steps over 2 samples each: the mean gradients are half of these. */
  private static final float[] G1 = {0.4f, -0.2f, 1.0f, 0.6f, -1.4f, 0.02f, 0.8f, -0.5f};
  private static final float[] G2 = {-0.3f, 0.5f, 0.9f, -0.1f, 0.7f, -0.06f, 0.2f, 1.1f};
  private static final long COUNT = 2;

  /** The weights after each of {@code grads} (sums over {@link #COUNT} samples). */
  private static float[][] apply(OptimizerSpec opt, float[]... grads) {
    try (TrainableModel model = new TrainableModel(DENSE, opt, ComputeOptions.cpu().withThreads(1, 1))) {
      model.importWeights(W0);
      float[][] after = new float[grads.length][];
      for (int i = 0; i < grads.length; i++) {
        model.applyGradients(grads[i].clone(), COUNT);
        after[i] = model.exportWeights();
      }
      return after;
    }
  }

  private static double[] mean(float[] sums) {
    double[] g = new double[sums.length];
    for (int i = 0; i < g.length; i++) {
      g[i] = sums[i] / (double) COUNT;
    }
    return g;
  }

  private static double[] start() {
    double[] w = new double[W0.length];
    for (int i = 0; i < w.length; i++) {
      w[i] = W0[i];
    }
    return w;
  }

  private static void assertClose(double[] expected, float[] actual, String what) {
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 2e-6 * Math.max(1, Math.abs(expected[i])), what + " [" + i + "]");
    }
  }

  @Test
  void rmspropsFirstTwoUpdatesMatchTheHandComputationAtTheScheduledRates() {
    double lr = 0.01;
    double rho = 0.8;
    double momentum = 0.5;
    double eps = 1e-6;
    // A step schedule halving every step: the second update must use half the rate.
    OptimizerSpec opt = OptimizerSpec.rmsprop(lr, rho, momentum, eps).withSchedule(LearningRateSchedule.step(1, 0.5));
    float[][] got = apply(opt, G1, G2);
    double[] w = start();
    double[] ms = new double[w.length];
    double[] mom = new double[w.length];
    float[][] grads = {G1, G2};
    for (int t = 0; t < 2; t++) {
      double rate = lr * Math.pow(0.5, t);
      double[] g = mean(grads[t]);
      for (int i = 0; i < w.length; i++) {
        ms[i] = rho * ms[i] + (1 - rho) * g[i] * g[i];
        mom[i] = momentum * mom[i] + rate * g[i] / Math.sqrt(ms[i] + eps);
        w[i] -= mom[i];
      }
      assertClose(w, got[t], "rmsprop step " + t);
    }
  }

  @Test
  void adagradsFirstTwoUpdatesMatchTheHandComputationFromTheInitialAccumulator() {
    double lr = 0.1;
    double init = 0.25;
    double eps = 1e-5;
    float[][] got = apply(OptimizerSpec.adagrad(lr, init, eps), G1, G2);
    double[] w = start();
    double[] acc = new double[w.length];
    java.util.Arrays.fill(acc, init);
    float[][] grads = {G1, G2};
    for (int t = 0; t < 2; t++) {
      double[] g = mean(grads[t]);
      for (int i = 0; i < w.length; i++) {
        acc[i] += g[i] * g[i];
        w[i] -= lr * g[i] / (Math.sqrt(acc[i]) + eps);
      }
      assertClose(w, got[t], "adagrad step " + t);
    }
  }

  @Test
  void adamwsFirstTwoUpdatesAreAdamPlusADecoupledDecayOfKernels() {
    double lr = 0.05;
    double wd = 0.1;
    double b1 = 0.9;
    double b2 = 0.999;
    double eps = 1e-7;
    float[][] got = apply(OptimizerSpec.adamW(lr, wd), G1, G2);
    double[] w = start();
    double[] m = new double[w.length];
    double[] v = new double[w.length];
    float[][] grads = {G1, G2};
    for (int t = 0; t < 2; t++) {
      double[] g = mean(grads[t]);
      double rate = lr * Math.sqrt(1 - Math.pow(b2, t + 1)) / (1 - Math.pow(b1, t + 1));
      for (int i = 0; i < w.length; i++) {
        if (i < KERNEL) {
          w[i] -= lr * wd * w[i];
        }
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        w[i] -= rate * m[i] / (Math.sqrt(v[i]) + eps);
      }
      assertClose(w, got[t], "adamw step " + t);
    }
  }

  @Test
  void adamwWithAZeroGradientShrinksKernelsByExactlyOneMinusLrTimesDecayAndLeavesBiases() {
    double lr = 0.05;
    double wd = 0.1;
    float[] zero = new float[W0.length];
    float[][] got = apply(OptimizerSpec.adamW(lr, wd), zero, zero);
    float shrink = (float) lr * (float) wd; // the graph multiplies the float rate by the float decay
    float[] once = new float[W0.length];
    float[] twice = new float[W0.length];
    for (int i = 0; i < W0.length; i++) {
      once[i] = i < KERNEL ? W0[i] - shrink * W0[i] : W0[i];
      twice[i] = i < KERNEL ? once[i] - shrink * once[i] : once[i];
      if (i < KERNEL) {
        assertEquals(W0[i] * (1 - lr * wd), got[0][i], 1e-7, "kernel " + i);
      }
    }
    assertArrayEquals(once, got[0], "kernels times (1 - lr*wd), biases untouched");
    assertArrayEquals(twice, got[1]);
    // Plain Adam with a zero gradient does not move at all: the shrink is the decay alone.
    assertArrayEquals(W0, apply(OptimizerSpec.adam(lr), zero)[0]);
  }

  @Test
  void l2AddsL2TimesTheKernelToTheMeanGradientAndLeavesBiasesAlone() {
    double lr = 0.1;
    double l2 = 0.5;
    float[][] got = apply(OptimizerSpec.sgd(lr).withL2(l2), G1);
    double[] g = mean(G1);
    double[] w = start();
    for (int i = 0; i < w.length; i++) {
      w[i] -= lr * (g[i] + (i < KERNEL ? l2 * W0[i] : 0));
    }
    assertClose(w, got[0], "sgd with l2");
    float[] plain = apply(OptimizerSpec.sgd(lr), G1)[0];
    assertEquals(plain[KERNEL], got[0][KERNEL], "bias: no penalty");
    assertNotEquals(plain[0], got[0][0], "kernel: penalised");
  }

  @Test
  void aHugeGradientIsScaledToTheClipNormOverAllWeightsAndASmallOneIsUntouched() {
    float[] huge = new float[W0.length];
    double sumSquares = 0;
    for (int i = 0; i < huge.length; i++) {
      huge[i] = (i % 2 == 0 ? 1 : -1) * 1e5f * (i + 1);
      sumSquares += (huge[i] / (double) COUNT) * (huge[i] / (double) COUNT);
    }
    double norm = Math.sqrt(sumSquares);
    float[] got = apply(OptimizerSpec.sgd(1.0).withClipNorm(2.0), huge)[0];
    double moved = 0;
    for (int i = 0; i < W0.length; i++) {
      double step = W0[i] - (double) got[i];
      // Clipped, the mean gradient keeps its direction and has norm 2.
      assertEquals(2.0 * huge[i] / COUNT / norm, step, 1e-6, "weight " + i);
      moved += step * step;
    }
    assertEquals(2.0, Math.sqrt(moved), 1e-5, "the update's global norm is the clip norm");
    // Under the norm the scale is exactly 1: the same bits as without clipping.
    assertArrayEquals(apply(OptimizerSpec.sgd(0.1), G1)[0], apply(OptimizerSpec.sgd(0.1).withClipNorm(100), G1)[0]);
  }

  @Test
  void clippingSeesTheGradientWithItsL2Penalty() {
    float[] zero = new float[W0.length];
    double l2 = 10;
    double sumSquares = 0;
    for (int i = 0; i < KERNEL; i++) {
      sumSquares += (l2 * W0[i]) * (l2 * W0[i]);
    }
    double norm = Math.sqrt(sumSquares);
    float[] got = apply(OptimizerSpec.sgd(1.0).withL2(l2).withClipNorm(1.0), zero)[0];
    for (int i = 0; i < W0.length; i++) {
      double expected = i < KERNEL ? W0[i] - l2 * W0[i] / norm : W0[i];
      assertEquals(expected, got[i], 1e-6, "weight " + i);
    }
  }

  @Test
  void everyOptimizersStateIsExportedWithItsStartValuesAndResumesBitwise() {
    LearningRateSchedule schedule = LearningRateSchedule.exponential(2, 0.5).withWarmup(1);
    List<OptimizerSpec> optimizers = List.of(
        OptimizerSpec.rmsprop(0.01, 0.9, 0.5, 1e-7), OptimizerSpec.adagrad(0.1, 0.1, 1e-7),
        OptimizerSpec.adamW(0.01, 0.1), OptimizerSpec.adam(0.01).withL2(0.01).withClipNorm(0.5),
        OptimizerSpec.momentum(0.05, 0.9), OptimizerSpec.sgd(0.1));
    int[] sizes = {16, 8, 18, 18, 8, 0};
    for (int k = 0; k < optimizers.size(); k++) {
      OptimizerSpec opt = optimizers.get(k).withSchedule(schedule);
      try (TrainableModel a = new TrainableModel(DENSE, opt, ComputeOptions.cpu().withThreads(1, 1));
          TrainableModel b = new TrainableModel(DENSE, opt, ComputeOptions.cpu().withThreads(1, 1))) {
        assertEquals(sizes[k], a.optimizerStateSize(), opt.toString());
        float[] initial = a.exportOptimizerState();
        if (opt.kind() == OptimizerSpec.Kind.ADAGRAD) {
          for (float v : initial) {
            assertEquals(0.1f, v, "Adagrad's accumulators start at the initial accumulator");
          }
        }
        if (opt.kind() == OptimizerSpec.Kind.ADAMW) {
          assertEquals(0.9f, initial[16], "beta1 power");
          assertEquals(0.999f, initial[17], "beta2 power");
        }
        a.applyGradients(G1.clone(), COUNT);
        a.applyGradients(G2.clone(), COUNT);
        // b takes over from a's exported state at step 2, as a resume from a checkpoint does.
        b.importWeights(a.exportWeights());
        b.importOptimizerState(a.exportOptimizerState(), a.appliedSteps());
        assertEquals(a.currentLearningRate(), b.currentLearningRate(), "the schedule continues at the global step");
        assertEquals(opt.learningRateAt(2), b.currentLearningRate());
        for (float[] g : new float[][] {G1, G2, G1}) {
          a.applyGradients(g.clone(), COUNT);
          b.applyGradients(g.clone(), COUNT);
        }
        assertArrayEquals(a.exportWeights(), b.exportWeights(), opt.toString());
        assertArrayEquals(a.exportOptimizerState(), b.exportOptimizerState(), opt.toString());
      }
    }
  }

  @Test
  void warmUpFromZeroMakesTheFirstUpdateANoOpForSgd() {
    float[][] got = apply(OptimizerSpec.sgd(0.1).withSchedule(LearningRateSchedule.constant().withWarmup(4)), G1, G1);
    assertArrayEquals(W0, got[0], "rate 0 at step 0");
    double[] w = start();
    double[] g = mean(G1);
    for (int i = 0; i < w.length; i++) {
      w[i] -= 0.1 * 0.25 * g[i];
    }
    assertClose(w, got[1], "step 1 at a quarter of the rate");
  }

  @Test
  void badOptimizerSettingsFailNamingTheSettingAndValue() {
    assertSetting(() -> OptimizerSpec.parse("lbfgs", 0.1), "optimizer", "lbfgs", "rmsprop, adagrad, adamw");
    assertSetting(() -> OptimizerSpec.rmsprop(0.1, 1.0, 0, 1e-7), "rho", "1.0", "[0, 1)");
    assertSetting(() -> OptimizerSpec.adagrad(0.1, -1, 1e-7), "initialAccumulator", "-1.0", ">= 0");
    assertSetting(() -> OptimizerSpec.adamW(0.1, -0.5), "weightDecay", "-0.5", ">= 0");
    assertSetting(() -> OptimizerSpec.adamW(0.5, 2), "weightDecay", "2.0", "below 1");
    assertSetting(() -> OptimizerSpec.adam(0.1).withWeightDecay(0.01), "weightDecay", "0.01", "adamw only");
    assertSetting(() -> OptimizerSpec.sgd(0.1).withL2(Double.NaN), "l2", "NaN", ">= 0");
    assertSetting(() -> OptimizerSpec.sgd(0.1).withClipNorm(-1), "clipNorm", "-1.0", ">= 0");
    assertEquals(OptimizerSpec.Kind.ADAMW, OptimizerSpec.parse(" AdamW ", 0.1).kind());
    assertEquals(OptimizerSpec.DEFAULT_WEIGHT_DECAY, OptimizerSpec.parse("adamw", 0.1).weightDecay());
    assertEquals(OptimizerSpec.Kind.RMSPROP, OptimizerSpec.parse("rmsprop", 0.1).kind());
    assertEquals(OptimizerSpec.Kind.ADAGRAD, OptimizerSpec.parse("ADAGRAD", 0.1).kind());
  }

  @Test
  void theOriginalOptimizersDescribeThemselvesAsBeforeSoOldCheckpointsStillMatch() {
    assertEquals("OptimizerSpec[kind=ADAM, learningRate=0.001, momentum=0.0, beta1=0.9, beta2=0.999, epsilon=1.0E-7]",
        OptimizerSpec.adam(0.001).toString());
    assertEquals("OptimizerSpec[kind=SGD, learningRate=0.1, momentum=0.0, beta1=0.9, beta2=0.999, epsilon=1.0E-7]",
        OptimizerSpec.parse("sgd", 0.1).toString());
    String withAll = OptimizerSpec.adamW(0.001, 0.02).withL2(0.001).withClipNorm(1)
        .withSchedule(LearningRateSchedule.cosine(100, 0).withWarmup(5)).toString();
    for (String part : List.of("ADAMW", "weightDecay=0.02", "l2=0.001", "clipNorm=1.0", "cosine:100:0.0", "warmupSteps=5")) {
      assertTrue(withAll.contains(part), part + " missing from " + withAll);
    }
    assertNotEquals(OptimizerSpec.adam(0.001).toString(),
        OptimizerSpec.adam(0.001).withSchedule(LearningRateSchedule.step(10, 0.5)).toString(),
        "a checkpoint records the schedule: resuming under another one is refused");
  }

  private static void assertSetting(org.junit.jupiter.api.function.Executable call, String... parts) {
    InvalidSettingException e = assertThrows(InvalidSettingException.class, call);
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), "'" + p + "' missing from: " + e.getMessage());
    }
  }
}
