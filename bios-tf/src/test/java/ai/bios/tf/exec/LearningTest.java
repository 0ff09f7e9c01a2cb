package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.Synthetic;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.InMemoryRecords;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.LayerSpec;
import ai.bios.tf.model.LearningRateSchedule;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The engine learns problems whose answer is known, on held-out data. */
class LearningTest {

  static double accuracy(TrainableModel model, InMemoryRecords test, float[] labels) {
    int n = test.size();
    try (BatchAssembler assembler = new BatchAssembler(model.spec(), n);
        Batch batch = assembler.assemble(test, IntStream.range(0, n).toArray(), 0, n, 0, 0)) {
      float[] p = model.predict(batch.features());
      int outputs = model.spec().outputs();
      int right = 0;
      for (int i = 0; i < n; i++) {
        int best = p[i * outputs + 1] > p[i * outputs] ? 1 : 0;
        right += best == (int) labels[i] ? 1 : 0;
      }
      return right / (double) n;
    }
  }

  static float[] labels(InMemoryRecords records) {
    float[] y = new float[records.size()];
    for (int i = 0; i < y.length; i++) {
      final int row = i;
      records.read(i, 0, new ai.bios.tf.input.RecordWriter() {
        public void features(float[] v, int offset, int length) {}
        public void features(double[] v) {}
        public void label(double v) { y[row] = (float) v; }
        public void labels(float[] v, int offset, int length) { y[row] = v[offset]; }
      });
    }
    return y;
  }

  @Test
  void anMlpLearnsAHyperplaneToAbove95PercentOnHeldOutData() {
    ModelSpec spec = ModelSpec.builder(8).dense(32, Activation.RELU).dense(2, Activation.NONE).seed(1).build();
    InMemoryRecords test = Synthetic.hyperplane(1000, 8, 99);
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.adam(0.01), ComputeOptions.cpu().withThreads(1, 1))) {
      double before = accuracy(model, test, labels(test));
      new StepLoop(model, Synthetic.hyperplane(4000, 8, 1),
          TrainingConfig.builder().batchSize(64).epochs(5).build()).run();
      double after = accuracy(model, test, labels(test));
      assertTrue(after > 0.95, "accuracy " + before + " -> " + after);
    }
  }

  @Test
  void everyOptimizerLearnsAHyperplane() {
    ModelSpec spec = ModelSpec.builder(8).dense(16, Activation.RELU).dense(2, Activation.NONE).seed(3).build();
    InMemoryRecords test = Synthetic.hyperplane(1000, 8, 97);
    for (OptimizerSpec opt : java.util.List.of(OptimizerSpec.sgd(0.1), OptimizerSpec.momentum(0.05, 0.9),
        OptimizerSpec.adam(0.01), OptimizerSpec.rmsprop(0.005), OptimizerSpec.adagrad(0.1),
        OptimizerSpec.adamW(0.01, 0.01),
        OptimizerSpec.adam(0.02).withClipNorm(1.0).withL2(1e-4).withSchedule(LearningRateSchedule.cosine(160, 0).withWarmup(16)))) {
      try (TrainableModel model = new TrainableModel(spec, opt, ComputeOptions.cpu().withThreads(1, 1))) {
        TrainingReport report = new StepLoop(model, Synthetic.hyperplane(2000, 8, 1),
            TrainingConfig.builder().batchSize(64).epochs(5).build()).run();
        double[] losses = report.lossHistory();
        double first = (losses[0] + losses[1] + losses[2]) / 3;
        double last = (losses[losses.length - 1] + losses[losses.length - 2] + losses[losses.length - 3]) / 3;
        assertTrue(last < first / 2, opt + ": loss " + first + " -> " + last);
        double accuracy = accuracy(model, test, labels(test));
        assertTrue(accuracy > 0.9, opt + ": held-out accuracy " + accuracy);
      }
    }
  }

  @Test
  void aCnnLearnsToTellHorizontalFromVerticalBars() {
    ModelSpec spec = ModelSpec.builder(12, 12, 1)
        .conv2d(4, 3, 1, LayerSpec.Padding.SAME, Activation.RELU)
        .maxPool(2, 2).flatten().dense(2, Activation.NONE).seed(2).build();
    InMemoryRecords test = Synthetic.bars(400, 12, 98);
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.adam(0.01), ComputeOptions.cpu().withThreads(1, 1))) {
      new StepLoop(model, Synthetic.bars(2000, 12, 2),
          TrainingConfig.builder().batchSize(32).epochs(3).build()).run();
      double after = accuracy(model, test, labels(test));
      assertTrue(after > 0.95, "accuracy " + after);
    }
  }
}
