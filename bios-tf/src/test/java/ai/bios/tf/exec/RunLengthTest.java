package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import org.junit.jupiter.api.Test;

/** The run's length from shard sizes, as a driver computes it ahead (e.g. for a cosine schedule's total). */
class RunLengthTest {

  @Test
  void stepsPerEpochFromShardSizesIsWhatTheLoopRuns() {
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.SIMPLE).batchSize(32).epochs(2).build();
    int steps = config.stepsPerEpoch(new long[] {ScheduleEquivalenceTest.DATA.size()});
    assertEquals(16, steps, "500 records in batches of 32");
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.sgd(0.1),
        ComputeOptions.cpu().withThreads(1, 1))) {
      assertEquals(config.totalSteps(steps), new StepLoop(model, ScheduleEquivalenceTest.DATA, config).run().steps());
    }
  }

  @Test
  void theMostAnyWorkerNeedsAtItsShareOfTheBatchAndMaxStepsCaps() {
    // Batch 10 over 3 workers: local batches 4, 3, 3; shards of 8, 9 and 3 need 2, 3 and 1 steps.
    TrainingConfig config = TrainingConfig.builder().batchSize(10).epochs(4).build();
    assertEquals(3, config.stepsPerEpoch(new long[] {8, 9, 3}));
    assertEquals(0, config.stepsPerEpoch(new long[] {0, 0, 0}));
    assertEquals(12, config.totalSteps(3));
    assertEquals(7, config.toBuilder().maxSteps(7).build().totalSteps(3));
  }
}
