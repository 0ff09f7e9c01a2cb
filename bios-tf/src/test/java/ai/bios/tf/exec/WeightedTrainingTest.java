package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BiosException;
import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.collective.TestRings;
import ai.bios.tf.input.InMemoryRecords;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.LossOptions;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training with loss weights and label smoothing keeps the engine's invariants: the schedule never
 * changes the maths, resume is bitwise, N workers follow one (the weight sum is all-reduced), and
 * the weights do change what is learned.
 */
@Timeout(120)
class WeightedTrainingTest {
  /** Sample weights 0, 1, 2, 3, 0, ...: every batch of 32 has a positive weight sum. */
  static final InMemoryRecords WEIGHTED = ScheduleEquivalenceTest.DATA.withWeights(weights());
  static final LossOptions OPTIONS = new LossOptions(true, new float[] {1f, 3f}, 0.1);

  private static float[] weights() {
    float[] w = new float[ScheduleEquivalenceTest.DATA.size()];
    for (int i = 0; i < w.length; i++) {
      w[i] = i % 4;
    }
    return w;
  }

  private static TrainingConfig config(ExecutionMode mode, long maxSteps) {
    return TrainingConfig.builder().mode(mode).prefetchDepth(mode == ExecutionMode.SIMPLE ? 1 : 3).batchSize(32)
        .epochs(3).seed(3).checkpointInterval(5).maxSteps(maxSteps).build();
  }

  private record Run(double[] losses, float[] weights, TrainingReport report) {}

  private static Run train(LossOptions options, RecordSource data, TrainingConfig config, Path dir) {
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.adam(0.01),
        ComputeOptions.cpu().withThreads(1, 1), options)) {
      StepLoop loop = new StepLoop(model, data, config);
      if (dir != null) {
        loop.checkpoints(new LocalCheckpointStore(dir, 3));
      }
      TrainingReport report = loop.run();
      return new Run(report.lossHistory(), model.exportWeights(), report);
    }
  }

  @Test
  void simpleAndEfficientAreBitwiseEqualWithWeightsAndTheWeightsChangeTheRun() {
    Run simple = train(OPTIONS, WEIGHTED, config(ExecutionMode.SIMPLE, 0), null);
    Run efficient = train(OPTIONS, WEIGHTED, config(ExecutionMode.EFFICIENT, 0), null);
    assertEquals(48, simple.losses().length);
    assertArrayEquals(simple.losses(), efficient.losses(), "per-step weighted losses");
    assertArrayEquals(simple.weights(), efficient.weights(), "final weights");
    assertTrue(simple.losses()[47] < simple.losses()[0], "learned: " + simple.losses()[0] + " -> " + simple.losses()[47]);
    Run unweighted = train(LossOptions.NONE, ScheduleEquivalenceTest.DATA, config(ExecutionMode.SIMPLE, 0), null);
    assertFalse(java.util.Arrays.equals(unweighted.weights(), simple.weights()), "the weights change what is learned");
  }

  @Test
  void allOneSampleWeightsFollowTheUnweightedRun() {
    float[] ones = new float[ScheduleEquivalenceTest.DATA.size()];
    java.util.Arrays.fill(ones, 1f);
    Run weighted = train(new LossOptions(true, null, 0), ScheduleEquivalenceTest.DATA.withWeights(ones),
        config(ExecutionMode.EFFICIENT, 0), null);
    Run plain = train(LossOptions.NONE, ScheduleEquivalenceTest.DATA, config(ExecutionMode.EFFICIENT, 0), null);
    for (int s = 0; s < plain.losses().length; s++) {
      assertEquals(plain.losses()[s], weighted.losses()[s], 1e-5 * Math.abs(plain.losses()[s]), "step " + s);
    }
  }

  @Test
  void resumingAWeightedRunEqualsTheUninterruptedRunBitwise(@TempDir Path root) {
    for (ExecutionMode mode : ExecutionMode.values()) {
      Run whole = train(OPTIONS, WEIGHTED, config(mode, 0), null);
      Path dir = root.resolve(mode.name());
      train(OPTIONS, WEIGHTED, config(mode, 23), dir);
      Run second = train(OPTIONS, WEIGHTED, config(mode, 0), dir);
      assertEquals(23, second.report().firstStep(), mode + ": resumed");
      assertArrayEquals(whole.weights(), second.weights(), mode + ": final weights");
      assertArrayEquals(whole.losses(), second.losses(), mode + ": loss history");
    }
  }

  @Test
  void aCheckpointTrainedUnderOtherLossSettingsIsRefused(@TempDir Path dir) {
    train(OPTIONS, WEIGHTED, config(ExecutionMode.SIMPLE, 10), dir);
    LossOptions smoother = new LossOptions(true, new float[] {1f, 3f}, 0.2);
    BiosException e = assertThrows(BiosException.class,
        () -> train(smoother, WEIGHTED, config(ExecutionMode.SIMPLE, 0), dir));
    assertTrue(e.getMessage().contains("loss settings") && e.getMessage().contains("labelSmoothing=0.2")
        && e.getMessage().contains("different run"), e.getMessage());
    BiosException none = assertThrows(BiosException.class,
        () -> train(LossOptions.NONE, ScheduleEquivalenceTest.DATA, config(ExecutionMode.SIMPLE, 0), dir));
    assertTrue(none.getMessage().contains("sampleWeights=true"), none.getMessage());
  }

  @Test
  void twoWorkersFollowOneWorkerBecauseTheWeightSumIsAllReduced() throws Exception {
    int steps = DataPlan.stepsFor(WEIGHTED.size(), 32);
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.EFFICIENT).prefetchDepth(2).batchSize(32)
        .epochs(2).seed(3).shuffle(false).build();
    List<double[]> losses = TestRings.onRing(2, 256, TestRings.sameSecret(2), false, Duration.ofSeconds(30),
        (rank, ring) -> {
          try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.adam(0.01),
              ComputeOptions.cpu().withThreads(1, 1), OPTIONS)) {
            return new StepLoop(model, DistributedStepLoopTest.shard(WEIGHTED, rank, 2), config)
                .collective(ring).stepsPerEpoch(steps).threadPrefix("bios-w" + rank).run().lossHistory();
          }
        });
    TrainingConfig one = TrainingConfig.builder().mode(ExecutionMode.SIMPLE).batchSize(32).epochs(2).seed(3)
        .shuffle(false).build();
    double[] single = train(OPTIONS, WEIGHTED, one, null).losses();
    assertEquals(single.length, losses.get(0).length);
    for (int s = 0; s < single.length; s++) {
      assertEquals(single[s], losses.get(0)[s], 1e-5 * Math.abs(single[s]), "step " + s);
    }
  }

  @Test
  void theEpochTrainingLossAndTheValidationLossAreWeightedMeans() {
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.SIMPLE).batchSize(32).epochs(1).seed(3)
        .shuffle(false).build();
    InMemoryRecords validation = ai.bios.tf.Synthetic.hyperplane(100, 8, 9).withWeights(weights100());
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.adam(0.01),
        ComputeOptions.cpu().withThreads(1, 1), OPTIONS)) {
      TrainingReport report = new StepLoop(model, WEIGHTED, config).validation(validation).run();
      // without shuffling step s trains records [32 s, 32 s + 32): its weight is theirs (sample x class weight)
      double lossSum = 0;
      double weightSum = 0;
      float[][] row = new float[2][];
      for (int s = 0; s < report.lossHistory().length; s++) {
        double w = 0;
        for (int i = 32 * s; i < Math.min(WEIGHTED.size(), 32 * s + 32); i++) {
          WEIGHTED.read(i, 0, ValidationTest.recorder(row));
          w += (i % 4) * (row[1][0] == 1 ? 3.0 : 1.0);
        }
        lossSum += report.lossHistory()[s] * w;
        weightSum += w;
      }
      EpochMetrics epoch = report.epochs().get(0);
      assertEquals(lossSum / weightSum, epoch.trainLoss(), 1e-12 * lossSum / weightSum, "train loss: weighted mean");
      try (ai.bios.tf.input.BatchAssembler assembler = new ai.bios.tf.input.BatchAssembler(
              ScheduleEquivalenceTest.SPEC, 100, true);
          ai.bios.tf.input.Batch all = assembler.assemble(validation, java.util.stream.IntStream.range(0, 100).toArray(),
              0, 100, 0, 0)) {
        ai.bios.tf.model.Evaluation e = model.evaluate(all);
        assertTrue(e.weightSum() != e.count(), "the weights are not all 1");
        assertEquals(e.lossSum() / e.weightSum(), epoch.valLoss(), 1e-5 * epoch.valLoss(), "validation loss: weighted mean");
      }
    }
  }

  private static float[] weights100() {
    float[] w = new float[100];
    for (int i = 0; i < 100; i++) {
      w[i] = (i % 3) * 0.5f;
    }
    return w;
  }
}
