package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.checkpoint.Checkpoint;
import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.collective.TestRings;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.InMemoryRecords;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dropout and batch norm in the step loop: dropout masks are a pure function of (seed, step, rank)
 * and batch norm's moving statistics are model state, so invariants 1 to 4 of docs/architecture.md
 * (schedule independence, workers agreeing, reproducibility, resume) still hold bit for bit.
 */
@Timeout(180)
class LayerStateTest {
  /** Batch norm on the raw features (its moving statistics depend on the data only), dropout, batch norm again. */
  static final ModelSpec LAYERED = ModelSpec.builder(8)
      .batchNorm(0.9).dense(16, Activation.RELU).dropout(0.3).batchNorm().dense(2, Activation.NONE).seed(11).build();
  private static final InMemoryRecords DATA = ScheduleEquivalenceTest.DATA;
  private static final int FIRST_NORM = 16 + 8 * 16 + 16 + 32 + 16 * 2 + 2; // trainable parameters

  record Run(double[] losses, float[] weights, float[] optimizerState) {}

  private static TrainableModel model(ModelSpec spec) {
    return new TrainableModel(spec, OptimizerSpec.adam(0.01), ComputeOptions.cpu().withThreads(1, 1));
  }

  private static TrainingConfig.Builder config(ExecutionMode mode) {
    return TrainingConfig.builder().mode(mode).prefetchDepth(2).batchSize(32).epochs(3).seed(3);
  }

  private static Run train(ModelSpec spec, RecordSource data, TrainingConfig config, Path checkpoints) {
    try (TrainableModel model = model(spec)) {
      StepLoop loop = new StepLoop(model, data, config);
      if (checkpoints != null) {
        loop.checkpoints(new LocalCheckpointStore(checkpoints, 3));
      }
      TrainingReport report = loop.run();
      return new Run(report.lossHistory(), model.exportWeights(), model.exportOptimizerState());
    }
  }

  @Test
  void theModelAccountsForItsMovingStatisticsAfterTheTrainableParameters() {
    try (TrainableModel model = model(LAYERED)) {
      assertEquals(FIRST_NORM, model.trainableParameterCount());
      assertEquals(FIRST_NORM + 2 * 8 + 2 * 16, model.parameterCount(), "moving mean and variance per channel");
      float[] w = model.exportWeights();
      assertEquals(0f, w[FIRST_NORM], "moving mean starts at 0");
      assertEquals(1f, w[FIRST_NORM + 8], "moving variance starts at 1");
    }
  }

  @Test
  void dropoutAtRateZeroIsBitwiseTheModelWithoutDropout() {
    ModelSpec plain = ModelSpec.builder(8).dense(16, Activation.RELU).dense(2, Activation.NONE).seed(11).build();
    ModelSpec rateZero = ModelSpec.builder(8).dense(16, Activation.RELU).dropout(0).dense(2, Activation.NONE)
        .seed(11).build();
    Run a = train(plain, DATA, config(ExecutionMode.SIMPLE).build(), null);
    Run b = train(rateZero, DATA, config(ExecutionMode.SIMPLE).build(), null);
    assertArrayEquals(a.losses(), b.losses());
    assertArrayEquals(a.weights(), b.weights());
  }

  @Test
  void dropoutMasksAreAPureFunctionOfStepAndRankAndOffInPrediction() {
    ModelSpec dropped = ModelSpec.builder(8).dense(16, Activation.RELU).dropout(0.5).dense(2, Activation.NONE)
        .seed(11).build();
    ModelSpec plain = ModelSpec.builder(8).dense(16, Activation.RELU).dense(2, Activation.NONE).seed(11).build();
    try (TrainableModel model = model(dropped); TrainableModel reference = model(plain);
        BatchAssembler assembler = new BatchAssembler(dropped, 32);
        Batch batch = assembler.assemble(DATA, IntStream.range(0, 32).toArray(), 0, 32, 0, 0)) {
      float[] step0 = gradients(model, batch, 0, 0);
      assertArrayEquals(step0, gradients(model, batch, 0, 0), "the same step and rank: the same mask");
      assertFalse(Arrays.equals(step0, gradients(model, batch, 1, 0)), "another step: another mask");
      assertFalse(Arrays.equals(step0, gradients(model, batch, 0, 1)), "another rank: another mask");
      assertFalse(Arrays.equals(step0, gradients(reference, batch, 0, 0)), "dropout changes the gradients");
      assertArrayEquals(reference.predict(batch.features()), model.predict(batch.features()),
          "prediction is the model without dropout");
      assertEquals(reference.lossSum(batch), model.lossSum(batch), "so is evaluation");
    }
  }

  private static float[] gradients(TrainableModel model, Batch batch, long step, int rank) {
    float[] g = new float[model.parameterCount()];
    model.computeGradients(batch, g, step, rank);
    return g;
  }

  @Test
  void simpleAndEfficientAgreeBitwiseWithDropoutAndBatchNorm() {
    Run simple = train(LAYERED, DATA, config(ExecutionMode.SIMPLE).prefetchDepth(1).build(), null);
    Run efficient = train(LAYERED, DATA, config(ExecutionMode.EFFICIENT).prefetchDepth(3).build(), null);
    Run again = train(LAYERED, DATA, config(ExecutionMode.EFFICIENT).prefetchDepth(3).build(), null);
    assertArrayEquals(simple.losses(), efficient.losses());
    assertArrayEquals(simple.weights(), efficient.weights(), "weights and moving statistics");
    assertArrayEquals(efficient.weights(), again.weights(), "the same run twice");
    assertTrue(simple.losses()[47] < simple.losses()[0], simple.losses()[0] + " -> " + simple.losses()[47]);
  }

  @Test
  void resumeFromACheckpointEqualsTheUninterruptedRunWithDropoutAndBatchNorm(@TempDir Path root) throws Exception {
    for (ExecutionMode mode : ExecutionMode.values()) {
      Run whole = train(LAYERED, DATA, config(mode).build(), null);
      Path dir = root.resolve(mode.name());
      Run first = train(LAYERED, DATA, config(mode).checkpointInterval(5).maxSteps(23).build(), dir);
      try (InputStream in = Files.newInputStream(new LocalCheckpointStore(dir, 3).pathFor(23))) {
        float[] saved = Checkpoint.readFrom(in, "step 23").weights();
        assertArrayEquals(first.weights(), saved, "the checkpoint holds the weights and moving statistics");
        assertTrue(saved[FIRST_NORM] != 0f && saved[FIRST_NORM + 8] != 1f, "the moving statistics moved");
      }
      Run resumed = train(LAYERED, DATA, config(mode).checkpointInterval(5).build(), dir);
      assertArrayEquals(whole.weights(), resumed.weights(), mode + ": weights and moving statistics");
      assertArrayEquals(whole.optimizerState(), resumed.optimizerState(), mode + ": optimizer state");
      assertArrayEquals(whole.losses(), resumed.losses(), mode + ": loss history");
    }
  }

  @Test
  void movingStatisticsConvergeToTheDataMomentsAndPredictionUsesThem() {
    // Feature j ~ N(j - 3, (0.5 + 0.25 j)^2): the moving statistics of a batch norm on the raw
    // features must end near these moments.
    int n = 2000;
    SplittableRandom rnd = new SplittableRandom(17);
    float[] x = new float[n * 4];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < 4; j++) {
        x[i * 4 + j] = (float) (j - 3 + (0.5 + 0.25 * j) * rnd.nextGaussian());
      }
      y[i] = x[i * 4] + x[i * 4 + 3];
    }
    ModelSpec spec = ModelSpec.builder(4).batchNorm(0.9).dense(1, Activation.NONE)
        .loss(ai.bios.tf.model.Loss.MEAN_SQUARED_ERROR).seed(2).build();
    try (TrainableModel model = model(spec)) {
      new StepLoop(model, new InMemoryRecords(x, 4, y, 1), TrainingConfig.builder().batchSize(100).epochs(2)
          .seed(1).build()).run();
      float[] w = model.exportWeights();
      int t = model.trainableParameterCount();
      for (int j = 0; j < 4; j++) {
        double sd = 0.5 + 0.25 * j;
        assertEquals(j - 3, w[t + j], 0.15, "moving mean of feature " + j);
        assertEquals(sd * sd, w[t + 4 + j], 0.25 * sd * sd, "moving variance of feature " + j);
      }
      // Prediction normalises with the moving statistics, not with the batch's moments: a batch
      // of one record (whose own variance is 0) still gets the affine map the statistics define.
      float[] record = {1f, -2f, 0.5f, 3f};
      double expected = w[t - 1]; // dense bias
      for (int j = 0; j < 4; j++) {
        double normalised = (record[j] - w[t + j]) / Math.sqrt(w[t + 4 + j] + 1e-3);
        expected += (normalised * w[j] + w[4 + j]) * w[8 + j]; // gain, bias, then the dense kernel
      }
      try (org.tensorflow.types.TFloat32 one = org.tensorflow.types.TFloat32.tensorOf(
          org.tensorflow.ndarray.Shape.of(1, 4), d -> d.asRawTensor().data().asFloats().write(record))) {
        assertEquals(expected, model.predict(one)[0], 1e-4);
      }
    }
  }

  @Test
  void twoWorkersHoldTheSameMovingStatisticsAsOneWorkerWithTheGlobalBatch() throws Exception {
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.EFFICIENT).prefetchDepth(2).batchSize(32)
        .epochs(2).seed(3).shuffle(false).build();
    int steps = DataPlan.stepsFor(DATA.size(), 32);
    Run single = train(LAYERED, DATA, config, null);
    List<float[]> workers = TestRings.onRing(2, 256, TestRings.sameSecret(2), false, Duration.ofSeconds(30),
        (rank, ring) -> {
          try (TrainableModel model = model(LAYERED)) {
            new StepLoop(model, DistributedStepLoopTest.shard(rank, 2), config).collective(ring)
                .stepsPerEpoch(steps).threadPrefix("bios-bn" + rank).run();
            return model.exportWeights();
          }
        });
    assertArrayEquals(workers.get(0), workers.get(1), "every worker holds the same weights and moving statistics");
    // The first batch norm sees the raw features, so its moving statistics depend on the data only:
    // from the moments of the GLOBAL batch they equal the single worker's (local moments would not).
    for (int i = FIRST_NORM; i < FIRST_NORM + 16; i++) {
      assertEquals(single.weights()[i], workers.get(0)[i], 1e-5, "moving statistic " + (i - FIRST_NORM));
    }
  }
}
