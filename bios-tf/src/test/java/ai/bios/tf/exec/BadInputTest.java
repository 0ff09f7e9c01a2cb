package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BadInputException;
import ai.bios.tf.BiosException;
import ai.bios.tf.InvalidSettingException;
import ai.bios.tf.Synthetic;
import ai.bios.tf.concurrent.PrefetchQueue;
import ai.bios.tf.input.RecordChecks;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.input.RecordWriter;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.LayerSpec;
import ai.bios.tf.model.Loss;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

/** Invariant 7 of docs/architecture.md: bad input fails fast and says what to change. */
class BadInputTest {
  private static final ModelSpec SPEC = ModelSpec.builder(3).dense(4, Activation.TANH).dense(3, Activation.NONE).build();
  private static final int BAD_ROW = 37;

  /** 100 good records, except record 37, which {@code bad} writes. */
  private static RecordSource withBadRecord(BiConsumer<Integer, RecordWriter> bad) {
    return new RecordSource() {
      @Override
      public int size() {
        return 100;
      }

      @Override
      public void read(int index, int epoch, RecordWriter out) {
        if (index == BAD_ROW) {
          bad.accept(index, out);
        } else {
          out.features(new float[] {index, 1, 2});
          out.label(index % 2);
        }
      }
    };
  }

  private static Throwable failure(ModelSpec spec, RecordSource source, ExecutionMode mode, double lr) {
    long threads = Synthetic.liveThreads("bios-");
    try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.sgd(lr), ComputeOptions.cpu().withThreads(1, 1))) {
      TrainingConfig config = TrainingConfig.builder().mode(mode).batchSize(10).prefetchDepth(2).build();
      Throwable t = assertThrows(RuntimeException.class, () -> new StepLoop(model, source, config).run());
      assertEquals(threads, Synthetic.liveThreads("bios-"), "threads left behind after the failure");
      // In EFFICIENT mode the feeder's error arrives wrapped, with the original as cause.
      while (!(t instanceof BiosException) && t.getCause() != null) {
        t = t.getCause();
      }
      return t;
    }
  }

  private static void assertNames(Throwable t, String... parts) {
    for (String p : parts) {
      assertTrue(t.getMessage().contains(p), "'" + p + "' missing from: " + t.getMessage());
    }
  }

  @Test
  void aWrongFeatureLengthNamesTheRecordTheExpectedAndActualLength() {
    for (ExecutionMode mode : ExecutionMode.values()) {
      Throwable t = failure(SPEC, withBadRecord((i, out) -> {
        out.features(new float[] {1, 2});
        out.label(0);
      }), mode, 0.1);
      assertTrue(t instanceof BadInputException, t.toString());
      assertNames(t, "record 37", "expected 3", "got 2");
    }
  }

  @Test
  void nullFeaturesNameTheRecord() {
    Throwable t = failure(SPEC, withBadRecord((i, out) -> out.features((float[]) null)), ExecutionMode.EFFICIENT, 0.1);
    assertNames(t, "record 37", "null");
  }

  @Test
  void nanAndInfiniteFeaturesNameTheRecordAndFeature() {
    Throwable nan = failure(SPEC, withBadRecord((i, out) -> {
      out.features(new double[] {1, Double.NaN, 2});
      out.label(0);
    }), ExecutionMode.SIMPLE, 0.1);
    assertNames(nan, "record 37", "feature 1", "NaN");
    Throwable inf = failure(SPEC, withBadRecord((i, out) -> {
      out.features(new float[] {Float.POSITIVE_INFINITY, 1, 2});
      out.label(0);
    }), ExecutionMode.EFFICIENT, 0.1);
    assertNames(inf, "record 37", "feature 0", "Infinity");
  }

  @Test
  void badLabelsNameTheRecordAndTheRange() {
    Throwable nan = failure(SPEC, withBadRecord((i, out) -> {
      out.features(new float[] {1, 2, 3});
      out.label(Double.NaN);
    }), ExecutionMode.SIMPLE, 0.1);
    assertNames(nan, "record 37", "label is NaN");
    Throwable range = failure(SPEC, withBadRecord((i, out) -> {
      out.features(new float[] {1, 2, 3});
      out.label(3);
    }), ExecutionMode.SIMPLE, 0.1);
    assertNames(range, "record 37", "label 3.0", "[0, 2]", "StringIndexer");
    // a sparse (class index) label must be a whole number: 1.5 is not rounded to a class
    Throwable fractional = failure(SPEC, withBadRecord((i, out) -> {
      out.features(new float[] {1, 2, 3});
      out.label(1.5);
    }), ExecutionMode.EFFICIENT, 0.1);
    assertNames(fractional, "record 37", "label 1.5", "not a class index", "[0, 2]");
    ModelSpec binary = ModelSpec.builder(3).dense(1, Activation.NONE).loss(Loss.SIGMOID_CROSS_ENTROPY).build();
    Throwable notBinary = failure(binary, withBadRecord((i, out) -> {
      out.features(new float[] {1, 2, 3});
      out.label(0.5);
    }), ExecutionMode.SIMPLE, 0.1);
    assertNames(notBinary, "record 37", "0 or 1");
  }

  @Test
  void aNegativeOrNonFiniteSampleWeightNamesTheRecordAndTheValue() {
    for (double bad : new double[] {-1.0, Double.NaN, Double.POSITIVE_INFINITY}) {
      Throwable t = failure(SPEC, withBadRecord((i, out) -> {
        out.features(new float[] {1, 2, 3});
        out.label(0);
        out.weight(bad);
      }), ExecutionMode.EFFICIENT, 0.1);
      assertNames(t, "record 37", "weight is " + bad, "finite numbers >= 0");
    }
  }

  @Test
  void aBadCategoryIdNamesTheColumnTheRecordAndTheRange() {
    ModelSpec spec = ModelSpec.builder(3)
        .featureColumns(LayerSpec.numeric("x", 0, 1), LayerSpec.categorical("colour", 1, 4, 2),
            LayerSpec.numeric("z", 2, 1))
        .dense(3, Activation.NONE).build();
    for (double id : new double[] {4, 1.5, -1}) {
      for (ExecutionMode mode : ExecutionMode.values()) {
        Throwable t = failure(spec, withBadRecord((i, out) -> {
          out.features(new double[] {1, id, 2});
          out.label(0);
        }), mode, 0.1);
        assertTrue(t instanceof BadInputException, t.toString());
        assertNames(t, "column 'features', record 37", "value 1 is " + id, "categorical column 'colour'",
            "[0, 3]", "cardinality 4", "StringIndexer", "keep");
      }
    }
    // The same check for a token sequence, and in the Spark row decoder's wording (row and partition).
    // (The good records write {index, 1, 2}: ids below 100.)
    ModelSpec text = ModelSpec.builder(3).featureColumns(LayerSpec.sequence("tokens", 0, 3, 100, 2))
        .flatten().dense(2, Activation.NONE).build();
    Throwable t = failure(text, withBadRecord((i, out) -> {
      out.features(new float[] {1, 2, 100});
      out.label(0);
    }), ExecutionMode.SIMPLE, 0.1);
    assertNames(t, "record 37", "value 2 is 100.0", "categorical column 'tokens'", "[0, 99]");
    RecordChecks partition = RecordChecks.forRecords(spec).in("input partition 1 of the training data");
    BadInputException e = assertThrows(BadInputException.class, () -> partition.checkFeature(7, 1, 100));
    assertNames(e, "row 100 of input partition 1 of the training data", "categorical column 'colour'");
    partition.checkFeature(3, 1, 100); // the last id of the column is fine
    partition.checkFeature(7, 0, 100); // and numeric columns take any finite value
  }

  @Test
  void aNonFiniteLossNamesTheStepAndStopsBeforeTheModelTurnsNaN() {
    // Finite but huge features overflow the loss.
    RecordSource huge = withBadRecord((i, out) -> {
      out.features(new float[] {3e38f, 3e38f, 3e38f});
      out.label(1);
    });
    ModelSpec spec = ModelSpec.builder(3).dense(3, Activation.NONE).build();
    Throwable t = failure(spec, huge, ExecutionMode.EFFICIENT, 0.1);
    assertTrue(t instanceof BadInputException, t.toString());
    int[] order = new DataPlan(100, 10, 10, 0, 0).order(0);
    int position = 0;
    while (order[position] != BAD_ROW) {
      position++;
    }
    assertNames(t, "step " + position / 10 + ":", "loss is", "learningRate");
  }

  @Test
  void anEmptySourceSaysThereIsNoData() {
    RecordSource empty = new RecordSource() {
      public int size() {
        return 0;
      }

      public void read(int index, int epoch, RecordWriter out) {}
    };
    try (TrainableModel model = new TrainableModel(SPEC, OptimizerSpec.sgd(0.1), ComputeOptions.cpu())) {
      BiosException e = assertThrows(BiosException.class,
          () -> new StepLoop(model, empty, TrainingConfig.builder().build()).run());
      assertNames(e, "no training data");
    }
  }

  @Test
  void invalidSettingsFailAtConstructionNamingTheSetting() {
    assertNames(assertThrows(InvalidSettingException.class,
        () -> TrainingConfig.builder().prefetchDepth(0).build()), "prefetchDepth", "0");
    assertNames(assertThrows(InvalidSettingException.class, () -> PrefetchDepth.parse("lots")),
        "prefetchDepth", "lots");
    assertNames(assertThrows(InvalidSettingException.class,
        () -> TrainingConfig.builder().batchSize(0).build()), "batchSize", "0");
    assertNames(assertThrows(InvalidSettingException.class,
        () -> TrainingConfig.builder().epochs(-1).build()), "epochs", "-1");
    assertNames(assertThrows(InvalidSettingException.class, () -> OptimizerSpec.parse("lbfgs", 0.1)),
        "optimizer", "lbfgs", "sgd, momentum, adam");
    assertNames(assertThrows(InvalidSettingException.class, () -> OptimizerSpec.sgd(0)),
        "learningRate", "0");
    assertNames(assertThrows(InvalidSettingException.class, () -> ExecutionMode.parse("fast")),
        "executionMode", "fast", "simple or efficient");
    assertNames(assertThrows(InvalidSettingException.class,
        () -> ModelSpec.builder(4).flatten().build()), "dense layer");
    assertNames(assertThrows(InvalidSettingException.class,
        () -> ModelSpec.builder(4).conv2d(2, 3, 1, ai.bios.tf.model.LayerSpec.Padding.SAME, Activation.RELU)
            .flatten().dense(2, Activation.NONE).build()), "model.layers[0]", "image input");
    assertNames(assertThrows(IllegalArgumentException.class,
        () -> PrefetchQueue.fixed(java.util.Optional::<AutoCloseable>empty, 0, "x")), "prefetchDepth", "0");
  }
}
