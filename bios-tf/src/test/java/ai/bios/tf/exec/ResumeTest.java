package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BiosException;
import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.LearningRateSchedule;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.nio.file.Path;
import java.util.List;
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
    return run(spec, ADAM, config, dir, weightsOut, new double[1]);
  }

  /** Also gives the model's learning rate for its next step after the run in {@code rateOut}. */
  private static TrainingReport run(ModelSpec spec, OptimizerSpec opt, TrainingConfig config, Path dir,
      float[][] weightsOut, double[] rateOut) {
    try (TrainableModel model = new TrainableModel(spec, opt, ComputeOptions.cpu().withThreads(1, 1))) {
      StepLoop loop = new StepLoop(model, ScheduleEquivalenceTest.DATA, config);
      if (dir != null) {
        loop.checkpoints(new LocalCheckpointStore(dir, 3));
      }
      TrainingReport report = loop.run();
      weightsOut[0] = model.exportWeights();
      rateOut[0] = model.currentLearningRate();
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
  void everyOptimizerResumedMidScheduleEqualsTheUninterruptedRunBitwise(@TempDir Path root) {
    // Warm-up over 10 steps, then cosine to step 48: the checkpoint at step 23 is mid-decay, so a
    // schedule restarted at step 0 (not the global step) would change every later update.
    LearningRateSchedule schedule = LearningRateSchedule.cosine(48, 0.05).withWarmup(10);
    for (OptimizerSpec base : List.of(OptimizerSpec.rmsprop(0.01), OptimizerSpec.adagrad(0.1),
        OptimizerSpec.adamW(0.01, 0.05), OptimizerSpec.momentum(0.05, 0.9).withL2(1e-3))) {
      OptimizerSpec opt = base.withClipNorm(1.0).withSchedule(schedule);
      for (ExecutionMode mode : ExecutionMode.values()) {
        String what = opt.kind() + " " + mode;
        float[][] whole = new float[1][];
        TrainingReport uninterrupted = run(ScheduleEquivalenceTest.SPEC, opt, config(mode, 0), null, whole, new double[1]);

        Path dir = root.resolve(opt.kind() + "-" + mode);
        double[] rate = new double[1];
        run(ScheduleEquivalenceTest.SPEC, opt, config(mode, 23), dir, new float[1][], rate);
        assertEquals(opt.learningRateAt(23), rate[0], what + ": stopped mid-decay");

        float[][] resumed = new float[1][];
        TrainingReport second = run(ScheduleEquivalenceTest.SPEC, opt, config(mode, 0), dir, resumed, rate);
        assertEquals(23, second.firstStep(), what);
        assertEquals(opt.learningRateAt(48), rate[0], what + ": the resumed run ends at the global step 48");
        assertArrayEquals(whole[0], resumed[0], what + ": final weights");
        assertArrayEquals(uninterrupted.lossHistory(), second.lossHistory(), what + ": loss history");
      }
    }
  }

  @Test
  void aCheckpointOfAnotherScheduleIsRefusedNamingTheOptimizer(@TempDir Path dir) {
    OptimizerSpec cosine = ADAM.withSchedule(LearningRateSchedule.cosine(48, 0));
    run(ScheduleEquivalenceTest.SPEC, cosine, config(ExecutionMode.SIMPLE, 10), dir, new float[1][], new double[1]);
    OptimizerSpec step = ADAM.withSchedule(LearningRateSchedule.step(10, 0.5));
    BiosException e = assertThrows(BiosException.class, () -> run(ScheduleEquivalenceTest.SPEC, step,
        config(ExecutionMode.SIMPLE, 0), dir, new float[1][], new double[1]));
    assertTrue(e.getMessage().contains("optimizer") && e.getMessage().contains("step:10:0.5"), e.getMessage());
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
