package ai.bios.tf.concurrent;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The run's input threads: runs the items of a job (the records of one batch) on the calling
 * thread plus {@code threads - 1} helper threads ({@code <prefix>-input-1, ...}), which claim items
 * dynamically from an atomic counter, so items of uneven cost balance across threads.
 *
 * <p>Participants: the caller of {@link #run} is participant 0 and always works on its own job;
 * helper {@code h} is participant {@code h} and works on the oldest job that still has unclaimed
 * items. Several callers may run jobs at once (the feeder builds a training batch while the loop
 * evaluates validation records); each can finish its job alone, so none waits on another.
 *
 * <p>Errors: an item that throws stops the job from claiming items after it; the items before it
 * were claimed earlier and still run, so the job fails with the error of its <em>lowest</em>
 * failing item, the one a serial run would have hit first ({@link ItemFailed}). {@link #run}
 * returns or throws only once no participant touches the job's items any more, so the caller may
 * free what the items write into. The caller's wait for the helpers wakes at least once a second to
 * check the {@link Cancellation}; on cancellation or interrupt the job's unclaimed items are
 * abandoned and the caller waits (up to {@link #GRACE_NANOS}) for the items in progress.
 *
 * <p>Ownership: whoever creates the pool closes it; {@link #close} stops and joins the helpers from
 * any state. Jobs must not be run after close.
 */
public final class InputPool implements AutoCloseable {
  /** How long a stopping job, and {@link #close}, wait for items (transforms) in progress. */
  public static final long GRACE_NANOS = TimeUnit.SECONDS.toNanos(30);

  /** Work on one item, by one participant ({@code 0 .. threads() - 1}: one per thread). */
  @FunctionalInterface
  public interface Task {
    void run(int participant, int item) throws Exception;
  }

  /** A job failed: {@link #item()} is its lowest failing item, the cause its error. */
  public static final class ItemFailed extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int item;

    ItemFailed(int item, Throwable cause) {
      super("item " + item + " failed: " + cause, cause);
      this.item = item;
    }

    public int item() {
      return item;
    }
  }

  private final int threads;
  private final Cancellation cancellation;
  private final List<Thread> helpers = new ArrayList<>();
  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled when a job is posted or the pool closes (helpers wait on it). */
  private final Condition work = lock.newCondition();
  /** Signalled when a job's last item is done (callers wait on it). */
  private final Condition done = lock.newCondition();
  private final List<Job> jobs = new ArrayList<>(); // guarded by lock
  private boolean closed; // guarded by lock

  /**
   * Starts {@code threads - 1} helper threads named {@code prefix + "-input-" + h}.
   *
   * @param cancellation checked by every caller's wait, at least once a second
   */
  public InputPool(int threads, String prefix, Cancellation cancellation) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, was " + threads);
    }
    this.threads = threads;
    this.cancellation = Objects.requireNonNull(cancellation, "cancellation");
    try {
      for (int h = 1; h < threads; h++) {
        int participant = h;
        Thread t = new Thread(() -> help(participant), prefix + "-input-" + h);
        t.setDaemon(true);
        t.start();
        helpers.add(t);
      }
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /** Participants of every job: the caller and the helpers. */
  public int threads() {
    return threads;
  }

  /**
   * Runs {@code task} for items {@code 0 .. n-1}, each once, on this thread and the helpers.
   *
   * @throws ItemFailed with the lowest failing item (after every lower item has run)
   * @throws InterruptedException if this thread was interrupted (the job is abandoned)
   */
  public void run(int n, Task task) throws InterruptedException {
    Job job = new Job(n, task);
    lock.lock();
    try {
      if (closed) {
        throw new IllegalStateException("the input pool is closed");
      }
      jobs.add(job);
      work.signalAll();
    } finally {
      lock.unlock();
    }
    try {
      job.work(0);
      awaitDone(job);
    } catch (InterruptedException | RuntimeException | Error e) {
      job.abandon();
      awaitInFlight(job, e);
      throw e;
    } finally {
      lock.lock();
      try {
        jobs.remove(job);
      } finally {
        lock.unlock();
      }
    }
    job.rethrow();
  }

  private void awaitDone(Job job) throws InterruptedException {
    lock.lock();
    try {
      while (job.finished.get() < job.n) {
        if (job.abandoned) { // by this thread's interrupt, or by close()
          if (Thread.interrupted()) {
            throw new InterruptedException("interrupted while the input threads built a batch");
          }
          throw new IllegalStateException("the input threads were closed while a batch was being built");
        }
        done.awaitNanos(Cancellation.MAX_WAIT_NANOS);
        if (job.finished.get() < job.n) {
          cancellation.check();
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /** After the job was abandoned: waits (uninterruptibly, bounded) until no helper is inside one of its items. */
  private void awaitInFlight(Job job, Throwable cause) {
    boolean interrupted = Thread.interrupted();
    long deadline = System.nanoTime() + GRACE_NANOS;
    lock.lock();
    try {
      while (job.active.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          cause.addSuppressed(new Stuck());
          return;
        }
        try {
          done.awaitNanos(Cancellation.slice(left));
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      lock.unlock();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Added (suppressed) to the error of a {@link #run} whose abandoned items did not return within
   * {@link #GRACE_NANOS}: they may still write, so what they write into must not be freed.
   */
  public static final class Stuck extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    Stuck() {
      super("an input transform has not returned " + TimeUnit.NANOSECONDS.toSeconds(GRACE_NANOS)
          + " s after its batch was abandoned (it ignores interrupts); make the record source's transform return"
          + " promptly");
    }
  }

  /** Whether {@code failure} (from {@link #run}) left items running (see {@link Stuck}). */
  public static boolean stuck(Throwable failure) {
    for (Throwable s : failure.getSuppressed()) {
      if (s instanceof Stuck) {
        return true;
      }
    }
    return false;
  }

  private void help(int participant) {
    while (true) {
      Job job = null;
      lock.lock();
      try {
        while (!closed && (job = open()) == null) {
          work.awaitUninterruptibly();
        }
        if (closed) {
          return;
        }
      } finally {
        lock.unlock();
      }
      job.work(participant);
    }
  }

  /** The oldest job with unclaimed items, or null. Under the lock. */
  private Job open() {
    for (Job j : jobs) {
      if (j.claimable()) {
        return j;
      }
    }
    return null;
  }

  /** Stops and joins the helpers (each may finish the item it is in, up to {@link #GRACE_NANOS}). */
  @Override
  public void close() {
    lock.lock();
    try {
      closed = true;
      for (Job j : jobs) {
        j.abandon();
      }
      work.signalAll();
      done.signalAll(); // a caller still waiting sees its job abandoned
    } finally {
      lock.unlock();
    }
    List<String> left = new ArrayList<>();
    long deadline = System.nanoTime() + GRACE_NANOS;
    for (Thread t : helpers) {
      t.interrupt();
      if (!Threads.joinWithin(t, Math.max(1, deadline - System.nanoTime()))) {
        left.add(t.getName());
      }
    }
    if (!left.isEmpty()) {
      throw new IllegalStateException("input threads " + left + " have not ended "
          + TimeUnit.NANOSECONDS.toSeconds(GRACE_NANOS) + " s after the run stopped (a transform ignores "
          + "interrupts); make the record source's transform return promptly");
    }
  }

  /** One job: items claimed from {@code next}, failures kept as the lowest failing item. */
  private final class Job {
    final int n;
    final Task task;
    final AtomicInteger next = new AtomicInteger();
    /** Items run or skipped: the job is done when it reaches {@code n}. */
    final AtomicInteger finished = new AtomicInteger();
    /** Participants inside {@link #work}. */
    final AtomicInteger active = new AtomicInteger();
    volatile int lowestFailed = Integer.MAX_VALUE;
    volatile boolean abandoned;
    Throwable failure; // guarded by this

    Job(int n, Task task) {
      this.n = n;
      this.task = task;
    }

    boolean claimable() {
      return !abandoned && next.get() < n;
    }

    void work(int participant) {
      active.incrementAndGet();
      try {
        for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
          // Items after a failure are skipped; items before it run, so the lowest failure is found.
          if (!abandoned && i < lowestFailed) {
            try {
              task.run(participant, i);
            } catch (Throwable t) {
              fail(i, t);
            }
          }
          if (finished.incrementAndGet() == n) {
            signalDone();
          }
          if (abandoned || Thread.currentThread().isInterrupted()) {
            abandon(); // the pool closes, or the caller was interrupted: stop claiming
            break;
          }
        }
      } finally {
        if (active.decrementAndGet() == 0 && abandoned) {
          signalDone();
        }
      }
    }

    private synchronized void fail(int item, Throwable t) {
      if (item < lowestFailed) {
        lowestFailed = item;
        failure = t;
      }
    }

    void abandon() {
      abandoned = true;
    }

    synchronized void rethrow() {
      if (failure != null) {
        throw new ItemFailed(lowestFailed, failure);
      }
    }

    private void signalDone() {
      lock.lock();
      try {
        done.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }
}
