package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import ai.bios.tf.concurrent.Cancellation;
import ai.bios.tf.concurrent.Threads;
import ai.bios.tf.checkpoint.Checkpoint;
import ai.bios.tf.checkpoint.CheckpointStore;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * EFFICIENT: the loop only snapshots a due checkpoint; a checkpointer thread writes it. One write
 * is in flight at most: the loop waits only if the previous write has not finished.
 *
 * <p>Threads: {@link #checkpoint}, {@link #finish} and {@link #close} are for the loop; the
 * checkpointer thread, which this object starts and owns, writes and then tells the reporter. All
 * shared state is guarded by {@code lock}. A failed write crosses as data ({@code failure}) and is
 * rethrown on the loop by the next {@link #checkpoint} or by {@link #finish}. The loop's waits are
 * bounded by the run's input timeout and wake every second to check the run's cancellation. {@link
 * #close} asks the thread to stop after the write in hand and joins it, from any state; a write
 * still running 30 s later is interrupted, and one that ignores that fails the close.
 */
final class BackgroundCheckpointer implements Checkpointer {
  private final CheckpointStore store;
  private final StepTimeline timeline;
  private final Reporter reporter;
  private final Duration timeout;
  private final Cancellation cancellation;
  private final Thread thread;
  /** How long {@link #close} lets a write in hand finish before interrupting it. */
  static final long CLOSE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(30);

  private final Object lock = new Object();
  private Checkpoint next; // guarded by lock
  private long nextStep; // guarded by lock
  private boolean busy; // guarded by lock
  private boolean stopping; // guarded by lock
  private Throwable failure; // guarded by lock

  BackgroundCheckpointer(CheckpointStore store, Reporter reporter, Schedule.Parts parts) {
    this.store = store;
    this.timeline = parts.timeline();
    this.reporter = reporter;
    this.timeout = parts.handOffTimeout();
    this.cancellation = parts.cancellation();
    this.thread = new Thread(this::loop, parts.threadPrefix() + "-checkpointer");
    thread.setDaemon(true);
    thread.start();
  }

  private void loop() {
    while (true) {
      Checkpoint c;
      long step;
      synchronized (lock) {
        while (next == null && !stopping) {
          try {
            lock.wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        if (next == null) {
          return;
        }
        c = next;
        step = nextStep;
        next = null;
        busy = true;
      }
      try {
        long t0 = System.nanoTime();
        Checkpointer.write(store, c);
        timeline.record(step, Stage.CHECKPOINT, t0, System.nanoTime());
        reporter.checkpointed(c.nextStep());
      } catch (Throwable t) {
        synchronized (lock) {
          failure = t;
        }
      } finally {
        synchronized (lock) {
          busy = false;
          lock.notifyAll();
        }
      }
    }
  }

  /** Caller holds lock. Waits until no write is queued or running. */
  private void awaitIdleLocked() {
    long deadline = System.nanoTime() + timeout.toNanos();
    while ((busy || next != null) && failure == null) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new BiosException("a checkpoint write to " + store.location() + " has not finished in "
            + timeout + "; check the file system");
      }
      try {
        TimeUnit.NANOSECONDS.timedWait(lock, Cancellation.slice(left));
        cancellation.check();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new BiosException("interrupted while waiting for a checkpoint write", e);
      }
    }
    if (failure != null) {
      Throwable f = failure;
      throw f instanceof RuntimeException r ? r : new BiosException("checkpoint write failed: " + f, f);
    }
  }

  @Override
  public long checkpoint(long step, Supplier<Checkpoint> snapshot) {
    long t0 = System.nanoTime();
    Checkpoint c = snapshot.get();
    long snapshotNanos = System.nanoTime() - t0;
    synchronized (lock) {
      awaitIdleLocked();
      next = c;
      nextStep = step;
      lock.notifyAll();
    }
    return snapshotNanos;
  }

  @Override
  public void finish() {
    synchronized (lock) {
      awaitIdleLocked();
    }
  }

  @Override
  public void close() {
    synchronized (lock) {
      stopping = true;
      lock.notifyAll();
    }
    // A write in hand may legitimately take a while; one that hangs must not hold the task forever.
    if (!Threads.joinWithin(thread, CLOSE_GRACE_NANOS)) {
      thread.interrupt();
      if (!Threads.joinWithin(thread, TimeUnit.SECONDS.toNanos(1))) {
        throw new BiosException("the checkpoint write to " + store.location() + " has not ended "
            + TimeUnit.NANOSECONDS.toSeconds(CLOSE_GRACE_NANOS) + " s after the run stopped; its thread "
            + thread.getName() + " is left behind; check the file system");
      }
    }
  }
}
