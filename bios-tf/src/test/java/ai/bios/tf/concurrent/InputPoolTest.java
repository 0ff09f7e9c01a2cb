package ai.bios.tf.concurrent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.Synthetic;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The input threads: every item once, the caller's wait checks the cancellation, close joins. */
class InputPoolTest {

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void runsEveryItemExactlyOnceAcrossTheCallerAndTheHelpers() throws Exception {
    try (InputPool pool = new InputPool(3, "bios-pooltest-each", Cancellation.NONE)) {
      for (int job = 0; job < 50; job++) {
        AtomicIntegerArray runs = new AtomicIntegerArray(97);
        pool.run(97, (participant, item) -> {
          assertTrue(participant >= 0 && participant < 3);
          runs.incrementAndGet(item);
        });
        int[] once = new int[97];
        java.util.Arrays.fill(once, 1);
        int[] got = new int[97];
        for (int i = 0; i < 97; i++) {
          got[i] = runs.get(i);
        }
        assertArrayEquals(once, got, "job " + job);
      }
      assertEquals(2, Synthetic.liveThreads("bios-pooltest-each-input-"), "threads - 1 helpers");
    }
    assertEquals(0, Synthetic.liveThreads("bios-pooltest-each"), "close joined the helpers");
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void theCallersWaitForAHelperChecksTheCancellationEverySecond() {
    CountingCancellation cancel = new CountingCancellation(3, true);
    java.util.concurrent.atomic.AtomicBoolean helperStarted = new java.util.concurrent.atomic.AtomicBoolean();
    try (InputPool pool = new InputPool(2, "bios-pooltest-cancel", cancel)) {
      // The helper's item works until the run is cancelled; the caller's returns once the helper
      // has started, then the caller waits for the helper.
      assertThrows(CountingCancellation.Cancelled.class, () -> pool.run(2, (participant, item) -> {
        if (participant == 0) {
          while (!helperStarted.get()) {
            Thread.onSpinWait();
          }
        } else {
          helperStarted.set(true);
          while (cancel.checks() < 3) {
            Thread.onSpinWait();
          }
        }
      }));
      assertTrue(cancel.checks() >= 3, "the wait woke and checked " + cancel.checks() + " times");
    }
    assertEquals(0, Synthetic.liveThreads("bios-pooltest-cancel"), "close joined the helper");
  }
}
