package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.Synthetic;
import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.input.InMemoryRecords;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.LearningRateSchedule;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Invariants 1 and 3 of docs/architecture.md: the schedule never changes the maths, and runs reproduce. */
class ScheduleEquivalenceTest {
  static final ModelSpec SPEC = ModelSpec.builder(8)
      .dense(16, Activation.RELU).dense(2, Activation.NONE).seed(11).build();
  static final InMemoryRecords DATA = Synthetic.hyperplane(500, 8, 5);

  record Run(double[] losses, float[] weights, float[] optimizerState, List<Long> reported) {}

  static Run train(ExecutionMode mode, PrefetchDepth depth, OptimizerSpec opt, Path checkpointDir, int epochs) {
    TrainingConfig config = TrainingConfig.builder()
        .mode(mode).prefetchDepth(depth).batchSize(32).epochs(epochs).seed(3)
        .checkpointInterval(checkpointDir == null ? 0 : 5).build();
    List<Long> reported = new ArrayList<>();
    try (TrainableModel model = new TrainableModel(SPEC, opt, ComputeOptions.cpu().withThreads(1, 1))) {
      StepLoop loop = new StepLoop(model, DATA, config).listener(m -> reported.add(m.step()));
      if (checkpointDir != null) {
        loop.checkpoints(new LocalCheckpointStore(checkpointDir, 2));
      }
      TrainingReport report = loop.run();
      return new Run(report.lossHistory(), model.exportWeights(), model.exportOptimizerState(), reported);
    }
  }

  @Test
  void simpleAndEfficientGiveBitwiseIdenticalLossesAndWeights(@TempDir Path a, @TempDir Path b) {
    for (OptimizerSpec opt : List.of(OptimizerSpec.sgd(0.1), OptimizerSpec.momentum(0.05, 0.9), OptimizerSpec.adam(0.01))) {
      Run simple = train(ExecutionMode.SIMPLE, PrefetchDepth.of(1), opt, a.resolve(opt.kind().name()), 3);
      Run efficient = train(ExecutionMode.EFFICIENT, PrefetchDepth.of(3), opt, b.resolve(opt.kind().name()), 3);
      assertEquals(48, simple.losses().length, "16 steps per epoch x 3 epochs");
      assertArrayEquals(simple.losses(), efficient.losses(), opt + ": per-step losses");
      assertArrayEquals(simple.weights(), efficient.weights(), opt + ": final weights");
      assertArrayEquals(simple.optimizerState(), efficient.optimizerState(), opt + ": optimizer state");
      assertTrue(simple.losses()[47] < simple.losses()[0], opt + " learned: " + simple.losses()[0] + " -> " + simple.losses()[47]);
    }
  }

  @Test
  void everyOptimizerWithAScheduleL2AndClippingGivesBitwiseIdenticalRunsInBothModes(@TempDir Path a, @TempDir Path b) {
    // 48 steps: warm-up over 6, then cosine to 10% at step 48; the clip norm bites at these rates.
    LearningRateSchedule cosine = LearningRateSchedule.cosine(48, 0.1).withWarmup(6);
    for (OptimizerSpec base : List.of(OptimizerSpec.rmsprop(0.01), OptimizerSpec.adagrad(0.1),
        OptimizerSpec.adamW(0.01, 0.05), OptimizerSpec.adam(0.01).withL2(1e-3),
        OptimizerSpec.momentum(0.05, 0.9).withSchedule(LearningRateSchedule.step(16, 0.5)))) {
      OptimizerSpec opt = base.withClipNorm(0.5).withSchedule(
          base.schedule().kind() == LearningRateSchedule.Kind.CONSTANT ? cosine : base.schedule());
      Run simple = train(ExecutionMode.SIMPLE, PrefetchDepth.of(1), opt, a.resolve(opt.kind().name()), 3);
      Run efficient = train(ExecutionMode.EFFICIENT, PrefetchDepth.of(3), opt, b.resolve(opt.kind().name()), 3);
      assertArrayEquals(simple.losses(), efficient.losses(), opt + ": per-step losses");
      assertArrayEquals(simple.weights(), efficient.weights(), opt + ": final weights");
      assertArrayEquals(simple.optimizerState(), efficient.optimizerState(), opt + ": optimizer state");
      assertTrue(simple.losses()[47] < simple.losses()[0], opt + " learned: " + simple.losses()[0] + " -> " + simple.losses()[47]);
      Run unclipped = train(ExecutionMode.SIMPLE, PrefetchDepth.of(1), opt.withClipNorm(0), null, 3);
      assertFalse(java.util.Arrays.equals(unclipped.weights(), simple.weights()), opt + ": the clip norm bites");
    }
  }

  @Test
  void autoPrefetchDepthGivesTheSameMathsAsAFixedOne() {
    Run fixed = train(ExecutionMode.EFFICIENT, PrefetchDepth.of(1), OptimizerSpec.adam(0.01), null, 2);
    Run auto = train(ExecutionMode.EFFICIENT, PrefetchDepth.auto(), OptimizerSpec.adam(0.01), null, 2);
    assertArrayEquals(fixed.weights(), auto.weights());
  }

  @Test
  void theSameRunTwiceIsBitwiseIdentical() {
    Run first = train(ExecutionMode.EFFICIENT, PrefetchDepth.of(2), OptimizerSpec.adam(0.01), null, 2);
    Run second = train(ExecutionMode.EFFICIENT, PrefetchDepth.of(2), OptimizerSpec.adam(0.01), null, 2);
    assertArrayEquals(first.losses(), second.losses());
    assertArrayEquals(first.weights(), second.weights());
  }

  @Test
  void anotherDataSeedChangesTheRun() {
    Run base = train(ExecutionMode.SIMPLE, PrefetchDepth.of(1), OptimizerSpec.sgd(0.1), null, 1);
    TrainingConfig other = TrainingConfig.builder().mode(ExecutionMode.SIMPLE).batchSize(32).seed(4).build();
    try (TrainableModel model = new TrainableModel(SPEC, OptimizerSpec.sgd(0.1), ComputeOptions.cpu().withThreads(1, 1))) {
      new StepLoop(model, DATA, other).run();
      assertNotEquals(base.weights()[0], model.exportWeights()[0], "the equality tests above can fail");
    }
  }

  @Test
  void theListenerSeesEveryStepInOrderInBothModes() {
    for (ExecutionMode mode : ExecutionMode.values()) {
      Run run = train(mode, PrefetchDepth.of(2), OptimizerSpec.sgd(0.1), null, 2);
      List<Long> expected = new ArrayList<>();
      for (long s = 0; s < 32; s++) {
        expected.add(s);
      }
      assertEquals(expected, run.reported(), mode.name());
    }
  }

  @Test
  void theTimelineHasEveryStageOfEveryStepInOrder() {
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.EFFICIENT).prefetchDepth(2)
        .batchSize(32).epochs(1).build();
    try (TrainableModel model = new TrainableModel(SPEC, OptimizerSpec.sgd(0.1), ComputeOptions.cpu().withThreads(1, 1))) {
      TrainingReport report = new StepLoop(model, DATA, config).run();
      StepTimeline t = report.timeline();
      assertEquals(16, report.steps());
      for (long s = 0; s < 16; s++) {
        for (Stage stage : new Stage[] {Stage.INPUT, Stage.INPUT_WAIT, Stage.COMPUTE, Stage.AGGREGATE, Stage.APPLY, Stage.REPORT}) {
          assertTrue(t.duration(s, stage) >= 0, "step " + s + " has no " + stage);
        }
        assertTrue(t.end(s, Stage.INPUT) <= t.end(s, Stage.INPUT_WAIT), "a batch is taken after it is built");
        assertTrue(t.end(s, Stage.INPUT_WAIT) <= t.start(s, Stage.COMPUTE));
        assertTrue(t.end(s, Stage.COMPUTE) <= t.start(s, Stage.APPLY));
        assertTrue(t.end(s, Stage.APPLY) <= t.start(s, Stage.REPORT), "reported after the step is applied");
        if (s > 0) {
          assertTrue(t.end(s - 1, Stage.APPLY) <= t.start(s, Stage.COMPUTE), "no step overlaps the previous update");
        }
      }
      assertTrue(report.deviceIdleFraction() >= 0 && report.deviceIdleFraction() < 1);
      assertTrue(report.ceiling() >= 1);
    }
  }

  @Test
  void noThreadOutlivesARun() {
    long before = Synthetic.liveThreads("bios-");
    for (int i = 0; i < 5; i++) {
      train(ExecutionMode.EFFICIENT, PrefetchDepth.of(2), OptimizerSpec.sgd(0.1), null, 1);
    }
    assertEquals(before, Synthetic.liveThreads("bios-"));
  }
}
