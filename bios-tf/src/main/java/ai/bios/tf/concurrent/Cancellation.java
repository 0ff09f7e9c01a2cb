package ai.bios.tf.concurrent;

import java.util.concurrent.TimeUnit;

/**
 * Whether the work a thread does on a task's behalf has been cancelled from outside (on Spark: the
 * task's kill flag, which Spark sets without interrupting the task's threads when it kills the
 * other tasks of a failed barrier stage).
 *
 * <p>The engine's blocking waits (the ring's connects, accepts, reads and writes; the loop's take
 * of a batch; the hand-offs to the reporter and the checkpointer; the feeder's wait for the first
 * epoch's vote) wake at least every {@link #MAX_WAIT_NANOS} and call {@link #check()}, so a killed
 * task stops within about a second instead of waiting out a timeout. Implementations are called
 * from several threads and must be cheap and thread-safe.
 */
@FunctionalInterface
public interface Cancellation {
  /** The longest any cancellable wait blocks between two checks: one second. */
  long MAX_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** Never cancelled. */
  Cancellation NONE = () -> {};

  /** Returns if the work goes on; throws an unchecked exception saying why if it was cancelled. */
  void check();

  /** How long to wait before the next check, given {@code leftNanos} until the wait's deadline. */
  static long slice(long leftNanos) {
    return Math.max(1, Math.min(leftNanos, MAX_WAIT_NANOS));
  }
}
