package ai.bios.tf.concurrent;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The bounded queue between a feeder thread, which prepares items (training batches) with a
 * {@link Producer}, and one consumer (the training loop), which {@link #take()}s them in production
 * order.
 *
 * <p>Discipline (after {@code java.util.concurrent.ArrayBlockingQueue}): one {@link ReentrantLock}
 * guards all mutable state, with two conditions, {@code notFull} (the feeder waits on it while the
 * buffer holds {@link #depth()} items) and {@code notEmpty} (the consumer waits on it while the
 * buffer is empty). Every wait is in a loop that re-checks its predicate. The producer itself is
 * always called <em>outside</em> the lock, so a slow producer never blocks the consumer or
 * {@link #close()}.
 *
 * <p>Errors cross threads as data (after Spark's {@code ReadAheadInputStream}): whatever the
 * producer throws, {@link Error}s included, is put in the buffer behind the items produced before
 * it and rethrown to the consumer, wrapped in a {@link FeederException}, by {@link #take()}.
 *
 * <p>Bound: at most {@link #depth()} produced items are buffered, plus at most one more in the
 * feeder's hand (produced, waiting for room). The end-of-data and error markers do not take a slot,
 * so the feeder never has to wait to report how it finished and its thread ends promptly.
 *
 * <p>Ownership: an item belongs to the queue from the moment the producer returns it until
 * {@link #take()} returns it; from then on the caller owns it and must close it. Items still in the
 * queue (or in the feeder's hand) when the queue is closed are closed by the queue. The producer is
 * never closed by the queue, even if it is {@link AutoCloseable}: its creator owns it.
 *
 * <p>Threading: {@link #start()}, {@link #take()}, {@link #withTakeTimeout} and {@link
 * #withCancellation} are for the single
 * consumer thread; {@link #close()} and the statistics getters may be called from any thread.
 *
 * @param <T> the item type; each item holds resources released by {@link AutoCloseable#close()}
 */
public final class PrefetchQueue<T extends AutoCloseable> implements AutoCloseable {

  /**
   * Produces items, one per call, on the feeder thread (never on two threads at once).
   *
   * <p>Ownership: an item returned by {@link #next()} passes to the queue. When the queue is closed
   * while {@code next()} is running, the feeder thread is interrupted; a producer blocked in an
   * interruptible wait should let the {@link InterruptedException} propagate (it is then dropped,
   * not reported). Note that interrupting a thread blocked in an interruptible NIO channel closes
   * that channel.
   *
   * @param <T> the item type
   */
  @FunctionalInterface
  public interface Producer<T> {
    /**
     * Produces the next item. Called on the feeder thread only.
     *
     * @return the next item, or {@link Optional#empty()} at end of data (it is not called again)
     * @throws Exception any failure; it is delivered to the consumer's {@link PrefetchQueue#take()}
     *     as the cause of a {@link FeederException}, and the producer is not called again
     */
    Optional<T> next() throws Exception;
  }

  /**
   * Thrown by {@link PrefetchQueue#take()} when the producer threw on the feeder thread. The cause
   * is the original throwable, unwrapped. Every {@code take()} after the failure throws a new
   * instance with the same cause.
   */
  public static final class FeederException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    FeederException(String threadName, Throwable cause) {
      super("feeder thread '" + threadName + "' failed while producing the next item: " + cause,
          cause);
    }
  }

  /**
   * Thrown by {@link PrefetchQueue#take()} when no item, end of data or error arrived within the
   * take timeout (see {@link PrefetchQueue#withTakeTimeout(Duration)}). The cause is a {@link
   * TimeoutException}. The queue stays usable: a later {@code take()} waits again.
   */
  public static final class QueueTimeoutException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    QueueTimeoutException(String message) {
      super(message, new TimeoutException(message));
    }
  }

  /** What the buffer holds: a produced value, the end-of-data marker, or the feeder's failure. */
  private sealed interface Item<T> permits Value, End, Failed {}

  /** A produced item, owned by the queue while buffered. */
  private record Value<T>(T value) implements Item<T> {}

  /** End of data. Stays at the head of the buffer once reached. */
  private record End<T>() implements Item<T> {}

  /** The producer's failure. Stays at the head of the buffer once reached. */
  private record Failed<T>(Throwable error) implements Item<T> {}

  /** Largest depth auto mode grows to. */
  static final int MAX_AUTO_DEPTH = 64;

  /** How long {@link #close()} waits for the feeder thread to end. */
  static final long JOIN_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);

  private static final Duration DEFAULT_TAKE_TIMEOUT = Duration.ofMinutes(10);

  private final Producer<T> producer;
  private final String threadName;
  private final boolean auto;
  private final long itemBytes;
  private final long memoryBudgetBytes;

  /** Guards every field below. */
  private final ReentrantLock lock = new ReentrantLock();
  /** Signalled when a slot frees up, the depth grows, or the queue closes. */
  private final Condition notFull = lock.newCondition();
  /** Signalled when an item or marker is buffered, or the queue closes. */
  private final Condition notEmpty = lock.newCondition();

  /** Values, in production order, possibly followed by one End or Failed marker. */
  private final ArrayDeque<Item<T>> buffer = new ArrayDeque<>();
  /** Number of {@link Value}s in {@link #buffer} (markers take no slot). */
  private int buffered;
  private int depth;
  private int maxBuffered;
  private long consumerWaits;
  private long consumerWaitNanos;
  private Duration takeTimeout = DEFAULT_TAKE_TIMEOUT;
  private Cancellation cancellation = Cancellation.NONE;
  private boolean started;
  private boolean closed;
  /** True while the feeder thread is inside {@link Producer#next()}. */
  private boolean producing;
  private Thread feeder;
  /** Exceptions thrown by items' close() during cleanup: the first, the rest suppressed. */
  private Throwable cleanupFailure;

  private PrefetchQueue(
      Producer<T> producer,
      int depth,
      boolean auto,
      long itemBytes,
      long memoryBudgetBytes,
      String threadName) {
    this.producer = Objects.requireNonNull(producer, "producer");
    this.threadName = Objects.requireNonNull(threadName, "threadName");
    this.depth = depth;
    this.auto = auto;
    this.itemBytes = itemBytes;
    this.memoryBudgetBytes = memoryBudgetBytes;
  }

  /**
   * A queue of fixed depth. Not started: call {@link #start()}.
   *
   * @param producer called on the feeder thread; not closed by the queue
   * @param depth how many produced items may wait in the queue, at least 1
   * @param threadName the feeder thread's name
   * @throws IllegalArgumentException if {@code depth < 1}
   */
  public static <T extends AutoCloseable> PrefetchQueue<T> fixed(
      Producer<T> producer, int depth, String threadName) {
    if (depth < 1) {
      throw new IllegalArgumentException("`prefetchDepth` must be >= 1, was " + depth);
    }
    return new PrefetchQueue<>(producer, depth, false, 0, 0, threadName);
  }

  /**
   * A queue whose depth tunes itself, like tf.data's {@code AUTOTUNE} buffer size: it starts at 1
   * and grows by one each time the consumer has to wait on an empty queue while the feeder is still
   * running, as long as {@code (depth + 1) * itemBytes <= memoryBudgetBytes} and {@code depth < 64}.
   * It never shrinks. Depth 1 is the floor even if one item exceeds the budget. Not started: call
   * {@link #start()}.
   *
   * @param producer called on the feeder thread; not closed by the queue
   * @param itemBytes the memory one item holds, at least 1
   * @param memoryBudgetBytes the memory the buffered items may hold together, at least 1
   * @param threadName the feeder thread's name
   * @throws IllegalArgumentException if {@code itemBytes} or {@code memoryBudgetBytes} is below 1
   */
  public static <T extends AutoCloseable> PrefetchQueue<T> auto(
      Producer<T> producer, long itemBytes, long memoryBudgetBytes, String threadName) {
    if (itemBytes < 1) {
      throw new IllegalArgumentException("`itemBytes` must be >= 1, was " + itemBytes);
    }
    if (memoryBudgetBytes < 1) {
      throw new IllegalArgumentException(
          "`memoryBudgetBytes` must be >= 1, was " + memoryBudgetBytes);
    }
    return new PrefetchQueue<>(producer, 1, true, itemBytes, memoryBudgetBytes, threadName);
  }

  /**
   * Sets how long {@link #take()} waits before throwing {@link QueueTimeoutException}; default 10
   * minutes. Consumer thread; call before {@link #start()}.
   *
   * @param timeout strictly positive
   * @return this queue
   * @throws IllegalArgumentException if {@code timeout} is zero or negative
   * @throws IllegalStateException if the queue was already started or closed
   */
  public PrefetchQueue<T> withTakeTimeout(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isZero() || timeout.isNegative()) {
      throw new IllegalArgumentException("`takeTimeout` must be > 0, was " + timeout);
    }
    lock.lock();
    try {
      ensureOpen();
      if (started) {
        throw new IllegalStateException("PrefetchQueue already started; set takeTimeout before start()");
      }
      takeTimeout = timeout;
    } finally {
      lock.unlock();
    }
    return this;
  }

  /**
   * Makes {@link #take()}, and the feeder while it waits for room, wake at least once a second and
   * call {@code c}, which throws (ending the wait) once the consumer's work is cancelled; the
   * feeder then reports the cancellation like a producer failure. Consumer thread; call before
   * {@link #start()}.
   *
   * @return this queue
   * @throws IllegalStateException if the queue was already started or closed
   */
  public PrefetchQueue<T> withCancellation(Cancellation c) {
    Objects.requireNonNull(c, "cancellation");
    lock.lock();
    try {
      ensureOpen();
      if (started) {
        throw new IllegalStateException("PrefetchQueue already started; set the cancellation before start()");
      }
      cancellation = c;
    } finally {
      lock.unlock();
    }
    return this;
  }

  /**
   * Starts the feeder thread, a daemon named as given to the factory. Call once, before {@link
   * #take()}.
   *
   * @return this queue
   * @throws IllegalStateException if already started, or closed
   */
  public PrefetchQueue<T> start() {
    lock.lock();
    try {
      ensureOpen();
      if (started) {
        throw new IllegalStateException("PrefetchQueue already started");
      }
      Thread t = new Thread(this::feed, threadName);
      t.setDaemon(true);
      feeder = t;
      started = true;
      t.start();
    } finally {
      lock.unlock();
    }
    return this;
  }

  /**
   * The next item, in production order. Blocks until an item, the end of data or the feeder's
   * failure is at the head of the queue. Consumer thread only. The caller owns the returned item
   * and must close it.
   *
   * @return the next item, or {@link Optional#empty()} at end of data (and on every later call)
   * @throws FeederException if the producer threw (on this and every later call); the cause is the
   *     original throwable
   * @throws QueueTimeoutException if nothing arrived within the take timeout
   * @throws RuntimeException whatever the {@link #withCancellation cancellation} throws, once the
   *     consumer's work is cancelled while this call waits
   * @throws CancellationException if the calling thread was interrupted; its interrupt flag is set
   *     again and the cause is the {@link InterruptedException}
   * @throws IllegalStateException if the queue is closed (also when it is closed while this call
   *     waits), or not started
   */
  public Optional<T> take() {
    try {
      lock.lockInterruptibly();
    } catch (InterruptedException e) {
      throw cancelled(e);
    }
    try {
      ensureOpen();
      if (!started) {
        throw new IllegalStateException("PrefetchQueue not started; call start() before take()");
      }
      if (buffer.isEmpty()) {
        // No marker buffered, so the feeder is still running: the consumer outpaces it.
        consumerWaits++;
        growIfAuto();
        awaitNotEmpty();
      }
      return removeHead();
    } catch (InterruptedException e) {
      throw cancelled(e);
    } finally {
      lock.unlock();
    }
  }

  /** The current depth (capacity). For an auto queue, the depth it has grown to. Any thread. */
  public int depth() {
    lock.lock();
    try {
      return depth;
    } finally {
      lock.unlock();
    }
  }

  /** The largest number of items ever buffered at once (markers not counted). Any thread. */
  public int maxBuffered() {
    lock.lock();
    try {
      return maxBuffered;
    } finally {
      lock.unlock();
    }
  }

  /** How many times {@link #take()} had to wait on an empty queue while the feeder ran. Any thread. */
  public long consumerWaits() {
    lock.lock();
    try {
      return consumerWaits;
    } finally {
      lock.unlock();
    }
  }

  /** Total nanoseconds {@link #take()} spent waiting for the feeder. Any thread. */
  public long consumerWaitNanos() {
    lock.lock();
    try {
      return consumerWaitNanos;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Stops the feeder and releases every item the queue still owns. Works in any state: before
   * {@link #start()}, with the feeder waiting for room, inside {@link Producer#next()} (the feeder
   * thread is then interrupted), or done; and with a consumer blocked in {@link #take()} on another
   * thread (it wakes and throws {@link IllegalStateException}). Waits up to 30 seconds for the
   * feeder thread to end, uninterruptibly (an interrupt that arrives meanwhile, or was already
   * pending, is kept). Closes every buffered item, and the feeder closes the item in its hand.
   * Exceptions from items' {@code close()} do not stop the cleanup and are not thrown. Does not
   * close the producer. Idempotent; any thread, including from within the producer.
   *
   * @throws IllegalStateException if the feeder thread did not end within 30 seconds (it names the
   *     thread)
   */
  @Override
  public void close() {
    List<T> orphans = new ArrayList<>();
    Thread t;
    lock.lock();
    try {
      if (!closed) {
        closed = true;
        for (Item<T> item : buffer) {
          if (item instanceof Value<T> v) {
            orphans.add(v.value());
          }
        }
        buffer.clear();
        buffered = 0;
        if (producing) {
          // Under the lock, so the interrupt cannot land after the feeder has seen `closed`
          // and cleared its interrupt flag.
          feeder.interrupt();
        }
        notFull.signalAll();
        notEmpty.signalAll();
      }
      t = feeder;
    } finally {
      lock.unlock();
    }
    for (T item : orphans) {
      closeQuietly(item);
    }
    if (t != null && t != Thread.currentThread() && !Threads.joinWithin(t, JOIN_TIMEOUT_NANOS)) {
      IllegalStateException e =
          new IllegalStateException(
              "feeder thread '" + threadName + "' did not stop within 30 s of close(); the"
                  + " producer ignores interrupts. Its stack: "
                  + stackOf(t));
      Throwable f = cleanupFailure();
      if (f != null) {
        e.addSuppressed(f);
      }
      throw e;
    }
  }

  /**
   * Exceptions thrown by items' {@code close()} while the queue cleaned up (the first, with the
   * others suppressed), or null. For tests.
   */
  Throwable cleanupFailure() {
    lock.lock();
    try {
      return cleanupFailure;
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------- feeder thread

  /** The feeder thread's body. */
  private void feed() {
    while (beginProducing()) {
      Optional<T> next = null;
      Throwable failure = null;
      try {
        next = producer.next();
        if (next == null) {
          failure = new NullPointerException("Producer.next() returned null, not an Optional");
        }
      } catch (Throwable e) {
        failure = e;
      }
      try {
        if (!finishProducing(next, failure)) {
          return;
        }
      } catch (Throwable e) {
        // An interrupt that did not come from close(), or an Error: report it unless closed.
        lock.lock();
        try {
          if (!closed) {
            buffer.addLast(new Failed<>(e));
            notEmpty.signal();
          }
        } finally {
          lock.unlock();
        }
        return;
      }
    }
  }

  /** Marks the feeder as inside the producer, unless closed. Feeder thread. */
  private boolean beginProducing() {
    lock.lock();
    try {
      if (closed) {
        return false;
      }
      producing = true;
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Hands what the producer returned to the buffer: the item (waiting for room), the end marker or
   * the failure. Feeder thread. If the item is not enqueued, for whatever reason (closed meanwhile,
   * interrupted, an Error), closes it before returning or throwing: it is still the queue's.
   *
   * @return whether to call the producer again
   */
  private boolean finishProducing(Optional<T> next, Throwable failure) throws InterruptedException {
    T item = failure == null ? next.orElse(null) : null;
    boolean enqueued = false;
    try {
      lock.lockInterruptibly();
      try {
        producing = false;
        if (closed) {
          return false;
        }
        if (failure != null) {
          buffer.addLast(new Failed<>(failure));
          notEmpty.signal();
          return false;
        }
        if (item == null) {
          buffer.addLast(new End<>());
          notEmpty.signal();
          return false;
        }
        while (buffered >= depth && !closed) {
          notFull.awaitNanos(Cancellation.MAX_WAIT_NANOS);
          try {
            cancellation.check(); // wakes every second, like the consumer's wait
          } catch (RuntimeException | Error cancelled) {
            buffer.addLast(new Failed<>(cancelled)); // markers take no slot; the item is closed below
            notEmpty.signal();
            return false;
          }
        }
        if (closed) {
          return false;
        }
        enqueueValue(item);
        enqueued = true;
        return true;
      } finally {
        lock.unlock();
      }
    } finally {
      if (!enqueued && item != null) {
        if (closed()) {
          // close() interrupts the feeder only while `producing`, under the lock, so by the time
          // we see `closed` under the lock that interrupt has landed; drop it so it cannot
          // disturb the item's close().
          Thread.interrupted();
        }
        closeQuietly(item);
      }
    }
  }

  /** Appends a produced item and wakes the consumer. Caller holds lock; buffer has room. */
  private void enqueueValue(T item) {
    buffer.addLast(new Value<>(item));
    buffered++;
    if (buffered > maxBuffered) {
      maxBuffered = buffered;
    }
    notEmpty.signal();
  }

  private boolean closed() {
    lock.lock();
    try {
      return closed;
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------- consumer side

  /**
   * Waits until the buffer is non-empty, the queue is closed, or the take timeout passes. Adds the
   * time waited to {@link #consumerWaitNanos}. Caller holds lock.
   */
  private void awaitNotEmpty() throws InterruptedException {
    long timeoutNanos = takeTimeout.toNanos();
    long remaining = timeoutNanos;
    long begin = System.nanoTime();
    try {
      while (buffer.isEmpty() && !closed) {
        if (remaining <= 0L) {
          throw new QueueTimeoutException(
              "PrefetchQueue '" + threadName + "': take() waited " + describe(takeTimeout)
                  + " and the feeder thread produced nothing in that time (no item, no end of"
                  + " data, no error). If preparing one item can legitimately take that long,"
                  + " raise the take timeout `takeTimeout` (PrefetchQueue.withTakeTimeout,"
                  + " default 10 minutes); otherwise the producer is stuck.");
        }
        long slice = Cancellation.slice(remaining);
        remaining -= slice - notEmpty.awaitNanos(slice);
        cancellation.check();
      }
    } finally {
      consumerWaitNanos += System.nanoTime() - begin;
    }
    ensureOpen();
  }

  /**
   * Removes and returns the head value, or reports the marker at the head (leaving it there, so
   * every later call reports it too). Caller holds lock; buffer non-empty.
   */
  private Optional<T> removeHead() {
    Item<T> head = buffer.peekFirst();
    if (head instanceof Value<T> v) {
      buffer.pollFirst();
      buffered--;
      notFull.signal();
      return Optional.of(v.value());
    }
    if (head instanceof Failed<T> f) {
      throw new FeederException(threadName, f.error());
    }
    return Optional.empty();
  }

  /**
   * In auto mode, grows the depth by one if the memory budget and {@link #MAX_AUTO_DEPTH} allow,
   * and wakes the feeder if it waits for room. Caller holds lock.
   */
  private void growIfAuto() {
    if (auto && depth < MAX_AUTO_DEPTH && depth + 1L <= memoryBudgetBytes / itemBytes) {
      depth++;
      notFull.signal();
    }
  }

  /** Caller holds lock. */
  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("PrefetchQueue closed");
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Restores the interrupt flag and turns the interrupt into an unchecked exception. */
  private CancellationException cancelled(InterruptedException e) {
    Thread.currentThread().interrupt();
    CancellationException c =
        new CancellationException("interrupted while waiting on PrefetchQueue '" + threadName + "'");
    c.initCause(e);
    return c;
  }

  /** Closes an item the queue owns, recording (not throwing) its failure. Any thread. */
  private void closeQuietly(T item) {
    try {
      item.close();
    } catch (Throwable e) {
      lock.lock();
      try {
        if (cleanupFailure == null) {
          cleanupFailure = e;
        } else if (cleanupFailure != e) {
          cleanupFailure.addSuppressed(e);
        }
      } finally {
        lock.unlock();
      }
    }
  }

  private static String stackOf(Thread t) {
    StringBuilder sb = new StringBuilder();
    for (StackTraceElement e : t.getStackTrace()) {
      sb.append("\n\tat ").append(e);
    }
    return sb.toString();
  }

  private static String describe(Duration d) {
    long ms = d.toMillis();
    return ms < 10_000 ? ms + " ms" : d.toSeconds() + " s";
  }
}
