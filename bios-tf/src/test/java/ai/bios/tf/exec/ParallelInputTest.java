package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BiosException;
import ai.bios.tf.InvalidSettingException;
import ai.bios.tf.Synthetic;
import ai.bios.tf.concurrent.CountingCancellation;
import ai.bios.tf.input.UnevenRecords;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Parallel input (issue 9): a {@link ai.bios.tf.input.ParallelRecordSource}'s transforms on
 * {@code inputThreads} threads never change the maths, a failing transform fails the run naming its
 * record, and every path ends the input threads.
 */
class ParallelInputTest {
  private static final int F = 8;
  private static final int N = 300;

  private record Run(double[] losses, float[] weights, List<EpochMetrics> epochs) {}

  private static TrainingConfig config(ExecutionMode mode, int inputThreads) {
    return TrainingConfig.builder().mode(mode).prefetchDepth(2).batchSize(32).epochs(2).seed(3)
        .inputThreads(inputThreads).build();
  }

  private static UnevenRecords records(int n, long seed, IntConsumer probe) {
    return new UnevenRecords(Synthetic.hyperplane(n, F, seed), F, 21, probe);
  }

  private static Run train(TrainingConfig config, IntConsumer probe, String threads) {
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.adam(0.01),
        ComputeOptions.cpu().withThreads(1, 1))) {
      TrainingReport report = new StepLoop(model, records(N, 5, probe), config)
          .validation(records(90, 8, i -> {}))
          .threadPrefix(threads).run();
      return new Run(report.lossHistory(), model.exportWeights(),
          report.epochs().stream().map(EpochMetrics::withoutTime).toList());
    }
  }

  @Test
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  void weightsAreBitwiseTheSameForAnyInputThreadsInBothModes() {
    Set<String> transformThreads = ConcurrentHashMap.newKeySet();
    IntConsumer seen = i -> transformThreads.add(Thread.currentThread().getName());
    Run reference = train(config(ExecutionMode.SIMPLE, 1), i -> {}, "bios-pin");
    assertEquals(20, reference.losses().length, "10 steps per epoch x 2 epochs");
    assertTrue(reference.epochs().get(1).validationRecords() == 90, "validation ran");
    for (ExecutionMode mode : ExecutionMode.values()) {
      for (int threads : new int[] {1, 2, 4}) {
        Run run = train(config(mode, threads), seen, "bios-pin");
        String what = mode + " with " + threads + " input threads";
        assertArrayEquals(reference.losses(), run.losses(), what + ": per-step losses");
        assertArrayEquals(reference.weights(), run.weights(), what + ": weights");
        assertEquals(reference.epochs(), run.epochs(), what + ": epoch and validation metrics");
      }
    }
    assertTrue(transformThreads.contains("bios-pin-input-3"), "the pool's threads transformed: " + transformThreads);
    assertTrue(transformThreads.contains("bios-pin-feeder"), "the feeder is one of the input threads");
    assertFalse(transformThreads.stream().anyMatch(t -> t.startsWith("bios-pin-input-4")), "4 threads in all");
    // The augmentation is real: another seed for it gives other weights.
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.adam(0.01),
        ComputeOptions.cpu().withThreads(1, 1))) {
      new StepLoop(model, new UnevenRecords(Synthetic.hyperplane(N, F, 5), F, 22), config(ExecutionMode.SIMPLE, 1)).run();
      assertFalse(java.util.Arrays.equals(reference.weights(), model.exportWeights()), "augmentation changes the data");
    }
    assertEquals(0, Synthetic.liveThreads("bios-pin"), "every run ended its threads");
  }

  private static Throwable find(Throwable e, Class<?> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return t;
      }
    }
    return null;
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aTransformThatThrowsFailsTheRunNamingItsRecordAndEndsEveryInputThread() {
    IllegalStateException boom = new IllegalStateException("cannot decode");
    IntConsumer failing = i -> {
      if (i == 123) {
        throw boom;
      }
    };
    for (ExecutionMode mode : ExecutionMode.values()) {
      for (int threads : new int[] {1, 4}) {
        String prefix = "bios-pfail-" + mode + threads;
        RuntimeException e = assertThrows(RuntimeException.class,
            () -> train(config(mode, threads), failing, prefix));
        BiosException named = (BiosException) find(e, BiosException.class);
        assertNotNull(named, mode + "/" + threads + ": " + e);
        assertTrue(named.getMessage().startsWith("record 123: the record source's transform failed"), named.getMessage());
        assertTrue(named.getCause() == boom, "the transform's exception is the cause");
        assertEquals(0, Synthetic.liveThreads(prefix), mode + "/" + threads + ": no thread of the run is left");
      }
    }
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aRunCancelledWhileTransformsWorkStopsAndEndsItsInputThreads() {
    CountingCancellation cancel = new CountingCancellation(1, false);
    // Record 77's transform works until the run has been cancelled (the first check after arming).
    IntConsumer slow = i -> {
      if (i == 77) {
        cancel.arm();
        while (cancel.checks() == 0) {
          Thread.onSpinWait();
        }
      }
    };
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.adam(0.01),
        ComputeOptions.cpu().withThreads(1, 1))) {
      StepLoop loop = new StepLoop(model, records(N, 5, slow), config(ExecutionMode.EFFICIENT, 3))
          .threadPrefix("bios-pcancel").cancellation(cancel);
      RuntimeException e = assertThrows(RuntimeException.class, loop::run);
      assertNotNull(find(e, CountingCancellation.Cancelled.class), "stopped by the cancellation: " + e);
    }
    assertEquals(0, Synthetic.liveThreads("bios-pcancel"), "the feeder and input threads ended");
  }

  @Test
  void inputThreadsBelowOneIsRefusedNamingTheSetting() {
    InvalidSettingException e = assertThrows(InvalidSettingException.class,
        () -> TrainingConfig.builder().inputThreads(0).build());
    assertTrue(e.getMessage().contains("inputThreads") && e.getMessage().contains("0"), e.getMessage());
  }
}
