package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.Synthetic;
import ai.bios.tf.concurrent.CountingCancellation;
import ai.bios.tf.concurrent.CountingCancellation.Cancelled;
import ai.bios.tf.input.RecordStream;
import ai.bios.tf.input.RecordWriter;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A cancelled run (on Spark: a killed task) stops at its next check, not when the input timeout
 * (here ten minutes) runs out, and leaves no thread behind.
 */
class CancellationTest {

  /** The first records arrive, then the stream stalls (as a shuffle read from a lost executor would). */
  private static final class Stalling implements RecordStream {
    private final int before;
    private final CountDownLatch never = new CountDownLatch(1);
    private int arrived;

    Stalling(int before) {
      this.before = before;
    }

    @Override
    public boolean advance() {
      if (arrived < before) {
        arrived++;
        return true;
      }
      try {
        never.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("stream closed while stalled", e);
      }
      return false;
    }

    @Override
    public int size() {
      return arrived;
    }

    @Override
    public void read(int index, int epoch, RecordWriter out) {
      ScheduleEquivalenceTest.DATA.read(index, epoch, out);
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aRunWhoseInputStallsEndsOnceCancelledAndLeavesNoThread() {
    // Armed at step 2: the loop checks before each of the few steps left (at most 5), so most of
    // the 8 checks must come from the loop's wait for a batch that never comes.
    CountingCancellation cancel = new CountingCancellation(8, false);
    TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.EFFICIENT).prefetchDepth(2).batchSize(16)
        .epochs(2).seed(3).shuffle(false).inputTimeout(Duration.ofMinutes(10)).build();
    try (TrainableModel model = new TrainableModel(ScheduleEquivalenceTest.SPEC, OptimizerSpec.sgd(0.1),
        ComputeOptions.cpu())) {
      StepLoop loop = new StepLoop(model, new Stalling(100), config).threadPrefix("bios-cancel")
          .cancellation(cancel)
          .listener(m -> {
            if (m.step() == 2) {
              cancel.arm(); // the input stalls at step 6 (records 96-99 then nothing)
            }
          });
      Cancelled e = assertThrows(Cancelled.class, loop::run);
      assertTrue(cancel.checks() >= 8, e.getMessage());
    }
    assertEquals(0, Synthetic.liveThreads("bios-cancel"), "the feeder, reporter and checkpointer threads ended");
  }
}
