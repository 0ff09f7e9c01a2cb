package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.Synthetic;
import ai.bios.tf.input.InMemoryRecords;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.Loss;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;

/** The epoch's validation metrics equal a direct computation from the model's predictions. */
class ValidationTest {
  private static final int F = 8;
  private static final InMemoryRecords TRAIN = Synthetic.hyperplane(300, F, 5);
  /** Labels with noise, so the model is not perfect and the AUC is not 1. */
  private static final InMemoryRecords VALIDATION = noisy(Synthetic.hyperplane(257, F, 9), 0.2, 3);

  static InMemoryRecords noisy(InMemoryRecords clean, double flip, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int n = clean.size();
    float[] x = new float[n * F];
    float[] y = new float[n];
    float[][] row = new float[2][];
    for (int i = 0; i < n; i++) {
      clean.read(i, 0, recorder(row));
      System.arraycopy(row[0], 0, x, i * F, F);
      y[i] = rnd.nextDouble() < flip ? 1 - row[1][0] : row[1][0];
    }
    return new InMemoryRecords(x, F, y, 1);
  }

  static ai.bios.tf.input.RecordWriter recorder(float[][] into) {
    return new ai.bios.tf.input.RecordWriter() {
      public void features(float[] v, int offset, int length) {
        into[0] = java.util.Arrays.copyOfRange(v, offset, offset + length);
      }

      public void features(double[] v) {
        throw new UnsupportedOperationException();
      }

      public void label(double v) {
        into[1] = new float[] {(float) v};
      }

      public void labels(float[] v, int offset, int length) {
        into[1] = java.util.Arrays.copyOfRange(v, offset, offset + length);
      }
    };
  }

  /** Trains 2 epochs with validation; compares the last epoch's metrics with the final model's predictions. */
  private static void checkAgainstDirect(ModelSpec spec) {
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.SIMPLE).batchSize(32).epochs(2).seed(1).build();
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.adam(0.01), ComputeOptions.cpu().withThreads(1, 1))) {
      TrainingReport report = new StepLoop(model, TRAIN, config).validation(VALIDATION).run();
      EpochMetrics last = report.epochs().get(1);
      int n = VALIDATION.size();
      float[] x = new float[n * F];
      boolean[] positive = new boolean[n];
      float[][] row = new float[2][];
      for (int i = 0; i < n; i++) {
        VALIDATION.read(i, 0, recorder(row));
        System.arraycopy(row[0], 0, x, i * F, F);
        positive[i] = row[1][0] > 0.5f;
      }
      float[] p;
      try (TFloat32 t = TFloat32.tensorOf(Shape.of(n, F))) {
        t.asRawTensor().data().asFloats().write(x);
        p = model.predict(t);
      }
      int k = spec.outputs();
      double loss = 0;
      int correct = 0;
      float[] score = new float[n];
      for (int i = 0; i < n; i++) {
        score[i] = p[i * k + k - 1];
        double q = positive[i] ? score[i] : 1 - score[i];
        loss += -Math.log(q);
        correct += (score[i] > 0.5f) == positive[i] ? 1 : 0;
      }
      // Exact AUC over all positive-negative pairs (ties one half), and the most binning can move it.
      double pairs = 0;
      double sameBin = 0;
      long pos = 0;
      long neg = 0;
      for (int i = 0; i < n; i++) {
        if (!positive[i]) {
          continue;
        }
        pos++;
        for (int j = 0; j < n; j++) {
          if (!positive[j]) {
            pairs += score[i] > score[j] ? 1 : score[i] == score[j] ? 0.5 : 0;
            sameBin += Validation.bin(score[i]) == Validation.bin(score[j]) ? 1 : 0;
          }
        }
      }
      for (boolean b : positive) {
        neg += b ? 0 : 1;
      }
      double exactAuc = pairs / (pos * neg);
      double binningError = 0.5 * sameBin / (pos * neg);
      String what = spec.loss() + ": " + last;
      assertEquals(n, last.validationRecords(), what);
      assertEquals(loss / n, last.valLoss(), 1e-5 * loss / n, what);
      assertEquals((double) correct / n, last.valAccuracy(), 1e-12, what);
      assertTrue(Math.abs(last.valAuc() - exactAuc) <= binningError + 1e-12,
          what + ": AUC " + last.valAuc() + " vs exact " + exactAuc + ", binning error at most " + binningError);
      assertTrue(exactAuc > 0.5 && exactAuc < 0.99 && binningError < 0.01, "a meaningful check: " + exactAuc);
      assertTrue(last.trainLoss() > 0 && Double.isFinite(last.trainLoss()));
    }
  }

  @Test
  void twoClassSoftmaxMetricsEqualADirectComputation() {
    checkAgainstDirect(ModelSpec.builder(F).dense(8, Activation.RELU).dense(2, Activation.NONE).seed(3).build());
  }

  @Test
  void oneOutputSigmoidMetricsEqualADirectComputation() {
    checkAgainstDirect(ModelSpec.builder(F).dense(8, Activation.RELU).dense(1, Activation.NONE)
        .loss(Loss.SIGMOID_CROSS_ENTROPY).seed(3).build());
  }

  @Test
  void theEpochTrainingLossIsTheSampleWeightedMeanOfItsSteps() {
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.SIMPLE).batchSize(64).epochs(2).seed(1).build();
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.sgd(0.1),
        ComputeOptions.cpu().withThreads(1, 1))) {
      TrainingReport report = new StepLoop(model, TRAIN, config).run();
      double[] steps = report.lossHistory(); // 300 records in batches of 64: 4 full steps and one of 44
      for (int e = 0; e < 2; e++) {
        double sum = 0;
        for (int s = 0; s < 5; s++) {
          sum += steps[5 * e + s] * (s < 4 ? 64 : 44);
        }
        EpochMetrics m = report.epochs().get(e);
        assertEquals(sum / 300, m.trainLoss(), 1e-12);
        assertEquals(300, m.records());
        assertTrue(Double.isNaN(m.valLoss()) && Double.isNaN(m.valAuc()), "no validation records: NaN");
      }
    }
  }

  @Test
  void aRegressionHasALossButNoAccuracyOrAuc() {
    ModelSpec spec = ModelSpec.builder(F).dense(1, Activation.NONE).loss(Loss.MEAN_SQUARED_ERROR).seed(3).build();
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.EFFICIENT).batchSize(32).epochs(1).build();
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.sgd(0.05), ComputeOptions.cpu().withThreads(1, 1))) {
      EpochMetrics m = new StepLoop(model, TRAIN, config).validation(VALIDATION).run().epochs().get(0);
      assertTrue(m.valLoss() > 0 && Double.isNaN(m.valAccuracy()) && Double.isNaN(m.valAuc()), m.toString());
    }
  }

  @Test
  void theHistogramAucOfSeparatedScoresIsOneAndOfOneClassNaN() {
    double[] h = new double[2 * Validation.BINS];
    h[Validation.bin(0.9f)] = 3; // positives high
    h[Validation.BINS + Validation.bin(0.1f)] = 2; // negatives low
    assertEquals(1.0, Validation.auc(h, 0, Validation.BINS));
    h[Validation.bin(0.1f)] = 2; // two positives tie with the negatives: 4 half pairs of 10
    assertEquals((6 + 0.5 * 4) / 10.0, Validation.auc(h, 0, Validation.BINS));
    assertTrue(Double.isNaN(Validation.auc(new double[2 * Validation.BINS], 0, Validation.BINS)));
  }
}
