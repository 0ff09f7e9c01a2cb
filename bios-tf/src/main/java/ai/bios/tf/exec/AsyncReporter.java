package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import ai.bios.tf.concurrent.Cancellation;
import ai.bios.tf.concurrent.Threads;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * EFFICIENT: metrics go through a bounded queue to a reporter thread, which calls the listener in
 * step order, off the training loop.
 *
 * <p>Threads: {@link #report}, {@link #checkpointed}, {@link #finish} and {@link #close} are for
 * the loop (and the checkpointer, for {@link #checkpointed}); the reporter thread, which this
 * object starts and owns, only takes from the queue and calls the listener. A listener failure
 * crosses as data: the thread stores it in {@code failure}, drains the queue without delivering,
 * and the next hand-off or {@link #finish} rethrows it on the loop. A hand-off waits at most the
 * run's input timeout for room (a listener that blocks fails the run, naming the fix), waking every
 * second to check the run's cancellation. {@link
 * #finish} queues the end marker and joins; {@link #close} interrupts and joins, from any state, for
 * at most 30 s (a listener that ignores the interrupt fails the close, naming the fix).
 */
final class AsyncReporter implements Reporter {
  private static final int CAPACITY = 1024;
  /** How long {@link #close} waits for a listener call in progress. */
  static final long CLOSE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(30);
  private final ArrayBlockingQueue<Object> queue = new ArrayBlockingQueue<>(CAPACITY);
  private final Object end = new Object();
  private final StepListener listener;
  private final StepTimeline timeline;
  private final Schedule.Parts parts;
  private final Thread thread;
  private volatile Throwable failure;

  AsyncReporter(Schedule.Parts parts) {
    this.parts = parts;
    this.listener = parts.listener();
    this.timeline = parts.timeline();
    this.thread = new Thread(this::loop, parts.threadPrefix() + "-reporter");
    thread.setDaemon(true);
    thread.start();
  }

  private void loop() {
    try {
      while (true) {
        Object item = queue.take();
        if (item == end) {
          return;
        }
        if (failure != null) {
          continue; // drain without delivering after a failure
        }
        try {
          if (item instanceof StepMetrics m) {
            long t0 = System.nanoTime();
            Reporter.deliver(() -> listener.onStep(m));
            timeline.record(m.step(), Stage.REPORT, t0, System.nanoTime());
          } else if (item instanceof EpochMetrics e) {
            Reporter.deliver(() -> listener.onEpoch(e));
          } else {
            long step = (Long) item;
            Reporter.deliver(() -> listener.onCheckpoint(step));
          }
        } catch (RuntimeException | Error e) {
          failure = e;
        }
      }
    } catch (InterruptedException e) {
      // close(): stop at once
    }
  }

  private void put(Object item) {
    rethrow();
    try {
      long deadline = System.nanoTime() + parts.handOffTimeout().toNanos();
      while (!queue.offer(item, Cancellation.slice(deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        parts.cancellation().check();
        rethrow();
        if (System.nanoTime() - deadline >= 0) {
          throw new BiosException("the step listener has not taken a report for "
              + parts.handOffTimeout() + " (it blocks); make StepListener.onStep return promptly");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BiosException("interrupted while reporting", e);
    }
  }

  private void rethrow() {
    Throwable f = failure;
    if (f != null) {
      throw new BiosException("the step listener failed: " + f, f);
    }
  }

  @Override
  public void report(StepMetrics m) {
    put(m);
  }

  @Override
  public void checkpointed(long step) {
    put(step);
  }

  @Override
  public void epochEnded(EpochMetrics epoch) {
    put(epoch);
  }

  @Override
  public void finish() {
    put(end);
    join();
    rethrow();
  }

  /** Waits for the reporter to deliver everything queued: checks the cancellation every second, gives up after the hand-off timeout. */
  private void join() {
    long deadline = System.nanoTime() + parts.handOffTimeout().toNanos();
    while (!Threads.joinWithin(thread, Cancellation.MAX_WAIT_NANOS)) {
      parts.cancellation().check();
      if (System.nanoTime() - deadline >= 0) {
        throw new BiosException("the step listener has not returned for " + parts.handOffTimeout()
            + " (it blocks); make StepListener.onStep return promptly");
      }
    }
  }

  @Override
  public void close() {
    thread.interrupt();
    if (!Threads.joinWithin(thread, CLOSE_GRACE_NANOS)) {
      throw new BiosException("the step listener has not returned " + TimeUnit.NANOSECONDS.toSeconds(CLOSE_GRACE_NANOS)
          + " s after the run stopped (it ignores interrupts); its thread " + thread.getName()
          + " is left behind; make StepListener.onStep return promptly");
    }
  }
}
