package ai.bios.examples;

import ai.bios.tf.exec.ExecutionMode;
import ai.bios.tf.exec.PrefetchDepth;
import ai.bios.tf.exec.StepLoop;
import ai.bios.tf.exec.TrainingConfig;
import ai.bios.tf.exec.TrainingReport;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.IntStream;

/**
 * The quickstart without Spark: trains a feed-forward network on the UCI Adult census data (predict income
 * {@code >50K}) with the Bios engine, printing progress, then reports accuracy on the held-out test
 * split.
 *
 * <pre>examples/bin/run-example EngineQuickstart [--mode simple|efficient] [--prefetch N|auto] [--epochs N]</pre>
 */
public final class EngineQuickstart {
  private EngineQuickstart() {}

  public static void main(String[] args) throws Exception {
    Args a = new Args(args);
    ExecutionMode mode = ExecutionMode.parse(a.get("mode", "efficient"));
    PrefetchDepth depth = PrefetchDepth.parse(a.get("prefetch", "auto"));
    int epochs = Integer.parseInt(a.get("epochs", "8"));
    a.requireConsumed();

    AdultData data = AdultData.load(Path.of("examples/data/adult"));
    System.out.printf(Locale.ROOT, "Adult census: %d training rows, %d test rows, %d features%n",
        data.train.size(), data.test.size(), data.features);

    ModelSpec spec = ModelSpec.builder(data.features)
        .dense(64, Activation.RELU)
        .dense(32, Activation.RELU)
        .dense(2, Activation.NONE)
        .seed(7)
        .build();
    TrainingConfig config = TrainingConfig.builder()
        .mode(mode).prefetchDepth(depth).batchSize(256).epochs(epochs).seed(7).build();
    System.out.println("training: " + config);

    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.adam(0.002), ComputeOptions.cpu())) {
      TrainingReport report = new StepLoop(model, data.train, config)
          .listener(new ConsoleProgress(System.out, 200))
          .run();
      System.out.println(report);

      int n = data.test.size();
      int right = 0;
      try (BatchAssembler assembler = new BatchAssembler(spec, n);
          Batch test = assembler.assemble(data.test, IntStream.range(0, n).toArray(), 0, n, 0, 0)) {
        float[] p = model.predict(test.features());
        for (int i = 0; i < n; i++) {
          int predicted = p[2 * i + 1] > p[2 * i] ? 1 : 0;
          right += predicted == (int) data.testLabels[i] ? 1 : 0;
        }
      }
      System.out.printf(Locale.ROOT, "test accuracy: %.4f (%d of %d) after %d epochs in %.1f s%n",
          right / (double) n, right, n, epochs, report.wallNanos() / 1e9);
    }
  }
}
