package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BiosException;
import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Invariant 4 of docs/architecture.md: a run stopped at step k and resumed ends exactly as if it never stopped. */
class ResumeTest {
  private static final OptimizerSpec ADAM = OptimizerSpec.adam(0.01);

  private static TrainingConfig config(ExecutionMode mode, long maxSteps) {
    return TrainingConfig.builder().mode(mode).prefetchDepth(2).batchSize(32).epochs(3).seed(3)
        .checkpointInterval(5).maxSteps(maxSteps).build();
  }

  private static TrainingReport run(ModelSpec spec, TrainingConfig config, Path dir, float[][] weightsOut) {
    try (TrainableModel model = new TrainableModel(spec, ADAM, ComputeOptions.cpu().withThreads(1, 1))) {
      StepLoop loop = new StepLoop(model, ScheduleEquivalenceTest.DATA, config);
      if (dir != null) {
        loop.checkpoints(new LocalCheckpointStore(dir, 3));
      }
      TrainingReport report = loop.run();
      weightsOut[0] = model.exportWeights();
      return report;
    }
  }

  @Test
  void resumingFromTheCheckpointAtStepKEqualsTheUninterruptedRunBitwise(@TempDir Path root) {
    for (ExecutionMode mode : ExecutionMode.values()) {
      float[][] whole = new float[1][];
      TrainingReport uninterrupted = run(ScheduleEquivalenceTest.SPEC, config(mode, 0), null, whole);

      Path dir = root.resolve(mode.name());
      float[][] partial = new float[1][];
      // First attempt "fails" after 23 steps: the newest checkpoint is the one after step 20
      // (interval 5), and it also wrote one at its last step, 23.
      TrainingReport first = run(ScheduleEquivalenceTest.SPEC, config(mode, 23), dir, partial);
      assertEquals(23, first.steps());

      float[][] resumed = new float[1][];
      TrainingReport second = run(ScheduleEquivalenceTest.SPEC, config(mode, 0), dir, resumed);
      assertEquals(23, second.firstStep(), mode + ": resumed at the newest checkpoint");
      assertEquals(48 - 23, second.steps());
      assertArrayEquals(whole[0], resumed[0], mode + ": final weights");
      assertArrayEquals(uninterrupted.lossHistory(), second.lossHistory(), mode + ": loss history");
    }
  }

  @Test
  void resumingFromAnOlderCheckpointAlsoEqualsTheUninterruptedRun(@TempDir Path dir) throws Exception {
    float[][] whole = new float[1][];
    run(ScheduleEquivalenceTest.SPEC, config(ExecutionMode.EFFICIENT, 0), null, whole);
    float[][] w = new float[1][];
    run(ScheduleEquivalenceTest.SPEC, config(ExecutionMode.EFFICIENT, 23), dir, w);
    LocalCheckpointStore store = new LocalCheckpointStore(dir, 3);
    // Lose the newest checkpoint (step 23): the run falls back to step 20.
    java.nio.file.Files.delete(store.pathFor(23));
    TrainingReport second = run(ScheduleEquivalenceTest.SPEC, config(ExecutionMode.EFFICIENT, 0), dir, w);
    assertEquals(20, second.firstStep());
    assertArrayEquals(whole[0], w[0]);
  }

  @Test
  void aCheckpointOfAnotherModelIsRefusedNamingWhatDiffers(@TempDir Path dir) {
    float[][] w = new float[1][];
    run(ScheduleEquivalenceTest.SPEC, config(ExecutionMode.SIMPLE, 10), dir, w);
    ModelSpec other = ModelSpec.builder(8).dense(8, Activation.TANH).dense(2, Activation.NONE).seed(11).build();
    BiosException e = assertThrows(BiosException.class,
        () -> run(other, config(ExecutionMode.SIMPLE, 0), dir, w));
    assertTrue(e.getMessage().contains("model spec") && e.getMessage().contains("different run"), e.getMessage());
  }
}
