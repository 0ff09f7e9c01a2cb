package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import ai.bios.tf.concurrent.Cancellation;
import ai.bios.tf.input.RecordStream;
import java.time.Duration;
import java.util.SplittableRandom;

/**
 * The first epoch of a {@link RecordStream}: which arrived records each step takes, and where the
 * epoch ends.
 *
 * <p><b>Order.</b> Records are drawn at random from a window of the next {@code window} arrivals
 * (with a window of 1, in arrival order), from a generator seeded by (seed, rank). The order is a
 * pure function of the arrival order and the seed, so a resumed run replays it exactly.
 *
 * <p><b>End.</b> No worker knows the others' record counts, so every step's aggregation carries a
 * vote: "I have records after this step". The epoch ends after the first step nobody votes for;
 * that is the step count every worker would have agreed on up front (the most any worker needs),
 * so streaming changes when the count is known, not what it is.
 *
 * <p>Threads: {@link #take}, {@link #skip} and {@link #drain} run on the thread that builds
 * batches (the feeder, or the loop in SIMPLE mode); {@link #decide} on the loop after each
 * aggregation; {@link #awaitEnd} on the batch builder once its own records have run out.
 */
final class StreamedEpoch {
  private final RecordStream stream;
  private final int localBatch;
  private final int[] window;
  private final SplittableRandom random;
  private final Duration timeout;
  private final Cancellation cancellation;
  private int filled;
  private boolean exhausted;
  /** The step that took this worker's last record (or the first step, if it had none). */
  private volatile long localEnd = Long.MAX_VALUE;

  private final Object lock = new Object();
  private long decidedThrough = -1; // guarded by lock
  private volatile int stepsPerEpoch = -1; // written under lock

  StreamedEpoch(RecordStream stream, int localBatch, int window, long seed, int rank, Duration timeout,
      Cancellation cancellation) {
    this.cancellation = cancellation;
    this.stream = stream;
    this.localBatch = localBatch;
    this.window = new int[window];
    this.random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ (rank + 1L) * 0x2545F4914F6CDD1DL);
    this.timeout = timeout;
  }

  /** Positions (in the stream) of the records step {@code step} takes, into {@code out}; returns how many. */
  int take(long step, int[] out) {
    int n = 0;
    while (n < localBatch && fill()) {
      int j = filled == 1 ? 0 : random.nextInt(filled);
      out[n++] = window[j];
      window[j] = window[--filled];
    }
    if (!fill() && localEnd == Long.MAX_VALUE) {
      localEnd = step;
    }
    return n;
  }

  /** Takes the records of steps {@code [0, steps)} without building batches (resuming mid-epoch). */
  void skip(long steps) {
    int[] scratch = new int[localBatch];
    for (long s = 0; s < steps; s++) {
      take(s, scratch);
    }
  }

  /** Reads the rest of the stream (resuming after the first epoch); returns this worker's step count. */
  int drain() {
    while (stream.advance()) {
      // every record lands in the source
    }
    exhausted = true;
    return DataPlan.stepsFor(stream.size(), localBatch);
  }

  /** Whether this worker has records for a step after {@code step}: its vote. */
  boolean moreAfter(long step) {
    return step < localEnd;
  }

  /** Whether this worker has taken its last record at or before {@code step}. */
  boolean ranOutBefore(long step) {
    return localEnd < step;
  }

  /** Records the aggregated vote of {@code step}: the epoch ends after it unless someone has more. */
  void decide(long step, boolean anyMore) {
    synchronized (lock) {
      decidedThrough = step;
      if (!anyMore && stepsPerEpoch < 0) {
        stepsPerEpoch = (int) Math.min(Integer.MAX_VALUE, step + 1);
      }
      lock.notifyAll();
    }
  }

  /**
   * Records that every step before {@code step} was voted "the epoch goes on": a run resumed inside
   * the first epoch, from a checkpoint written before its end was known.
   */
  void resumedAt(long step) {
    synchronized (lock) {
      decidedThrough = Math.max(decidedThrough, step - 1);
      lock.notifyAll();
    }
  }

  /** Sets the step count when it is already known (a resumed run past the first epoch). */
  void known(int steps) {
    synchronized (lock) {
      stepsPerEpoch = steps;
      decidedThrough = Long.MAX_VALUE;
      lock.notifyAll();
    }
  }

  /** The agreed steps per epoch, or -1 while the first epoch is still running. */
  int stepsPerEpoch() {
    return stepsPerEpoch;
  }

  /**
   * Waits until the vote of {@code step} is in; returns the steps per epoch, or -1 if the epoch goes
   * on. Fails only when no step at all is decided for the timeout (the loop may legitimately be
   * several queued steps behind, each waiting for a slower peer), or once the run is cancelled
   * (checked every second).
   */
  int awaitEnd(long step) throws InterruptedException {
    synchronized (lock) {
      long seen = decidedThrough;
      long deadline = System.nanoTime() + timeout.toNanos();
      while (decidedThrough < step) {
        if (decidedThrough != seen) {
          seen = decidedThrough;
          deadline = System.nanoTime() + timeout.toNanos();
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new BiosException("the training loop finished no step in " + timeout + " (the last was step "
              + seen + ") while the input waited to learn whether the first epoch ended at step " + step);
        }
        java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(lock, Cancellation.slice(left));
        cancellation.check();
      }
      return stepsPerEpoch;
    }
  }

  private boolean fill() {
    while (!exhausted && filled < window.length) {
      if (stream.advance()) {
        window[filled++] = stream.size() - 1;
      } else {
        exhausted = true;
      }
    }
    return filled > 0;
  }
}
