package ai.bios.tf.collective;

import ai.bios.tf.BiosException;
import ai.bios.tf.concurrent.Cancellation;
import ai.bios.tf.concurrent.Threads;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The ring's sender thread ({@code bios-ring-sender-<rank>}) and its hand-off with the caller's
 * thread: during an all-reduce the caller receives and reduces every chunk, and the sender streams
 * each chunk to the successor as soon as the caller has applied what it forwards, so sending,
 * receiving and reducing overlap.
 *
 * <p>Discipline: one {@link ReentrantLock} guards the hand-off state (the current job, the count
 * of chunks the caller has applied, done, failure, closed) with one condition, {@code changed},
 * signalled on every change. Every wait re-checks its predicate in a loop and wakes at least once
 * a second. The socket writes happen outside the lock.
 *
 * <p>Ownership: {@link RingCollective} owns this sender and both connections. The caller owns the
 * data array for the length of an all-reduce; the sender only reads ranges the caller has
 * finished. The sender owns its send buffer. Between all-reduces it is idle and does not touch the
 * outgoing connection, so the caller may write to it then (statistics, the abort notice).
 *
 * <p>Errors cross threads as data: a failure on the sender thread is recorded under the lock,
 * the caller is signalled, and the sender closes the outgoing connection (only that one: the
 * successor fails at once, while the caller may still read what the predecessor sent). The caller
 * rethrows it from {@link #awaitDone}, {@link #requireUsable}, or as the cause of a read that the
 * close broke ({@link #failure}). A failed all-reduce on the caller's side marks the sender
 * {@link #broken}.
 *
 * <p>Close: {@link #close()} (idempotent) marks the sender closed, closes the outgoing connection
 * (waking a write blocked on it), interrupts the thread and waits for it to end.
 */
final class RingSender {
  private static final long MAX_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final int rank;
  private final int prevRank;
  private final int nextRank;
  private final long timeoutNanos;
  private final RingSchedule schedule;
  private final FrameChannel toNext;
  private final ByteBuffer sendBuf;
  private final FloatBuffer sendFloats; // full-capacity view of sendBuf, made once
  private final Thread thread;
  private final Cancellation cancellation;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private float[] jobData; // the current all-reduce, null before the first; guarded by lock
  private int jobOffset; // guarded by lock
  private int jobLength; // guarded by lock
  private int jobFirstSequence; // guarded by lock
  private long processed; // chunks of the current job received and applied; guarded by lock
  private boolean sendDone; // guarded by lock
  private Throwable sendFailure; // guarded by lock
  private boolean closed; // guarded by lock

  /** Starts the thread; {@code bufferBytes} holds the largest chunk. */
  RingSender(int rank, int size, RingSchedule schedule, FrameChannel toNext, long timeoutNanos, int bufferBytes,
      Cancellation cancellation) {
    this.cancellation = cancellation;
    this.rank = rank;
    this.prevRank = (rank - 1 + size) % size;
    this.nextRank = (rank + 1) % size;
    this.timeoutNanos = timeoutNanos;
    this.schedule = schedule;
    this.toNext = toNext;
    this.sendBuf = ByteBuffer.allocateDirect(bufferBytes).order(ByteOrder.LITTLE_ENDIAN);
    this.sendFloats = sendBuf.asFloatBuffer();
    this.thread = new Thread(this::sendLoop, "bios-ring-sender-" + rank);
    thread.setDaemon(true);
    thread.start();
  }

  /** Caller: hands the sender an all-reduce of {@code data[offset, offset + length)}. */
  void start(float[] data, int offset, int length, int firstSequence) {
    lock.lock();
    try {
      requireUsableLocked();
      jobData = data;
      jobOffset = offset;
      jobLength = length;
      jobFirstSequence = firstSequence;
      processed = 0;
      sendDone = false;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Caller: one more chunk of the current job is received and applied. */
  void chunkApplied() {
    lock.lock();
    try {
      processed++;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Caller: waits until the sender has sent the whole job (checking the cancellation every second); rethrows its failure. */
  void awaitDone() {
    lock.lock();
    try {
      long deadline = System.nanoTime() + timeoutNanos;
      while (!sendDone && sendFailure == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new BiosException("rank " + rank + ": rank " + nextRank + " has not taken all gradients in "
              + Duration.ofNanos(timeoutNanos) + " (it stalled or died)");
        }
        changed.awaitNanos(Math.min(left, MAX_WAIT_NANOS));
        cancellation.check();
      }
      requireUsableLocked();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BiosException("rank " + rank + ": interrupted during the all-reduce", e);
    } finally {
      lock.unlock();
    }
  }

  /** Throws if the ring is closed or broken. */
  void requireUsable() {
    lock.lock();
    try {
      requireUsableLocked();
    } finally {
      lock.unlock();
    }
  }

  private void requireUsableLocked() {
    if (closed) {
      throw new IllegalStateException("RingCollective is closed");
    }
    if (sendFailure != null) {
      throw new BiosException("rank " + rank + ": the gradient ring is broken: " + sendFailure.getMessage(), sendFailure);
    }
  }

  /** The sender's failure, or what broke the ring; null while it is usable. */
  Throwable failure() {
    lock.lock();
    try {
      return sendFailure;
    } finally {
      lock.unlock();
    }
  }

  /** Caller: an all-reduce failed on its side, so the ring is unusable. */
  void broken() {
    lock.lock();
    try {
      if (sendFailure == null) {
        sendFailure = new BiosException("rank " + rank + ": an earlier all-reduce failed");
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Whether the sender is usable and not sending, so the caller may write to the successor. */
  boolean idle() {
    lock.lock();
    try {
      return !closed && sendFailure == null && (jobData == null || sendDone);
    } finally {
      lock.unlock();
    }
  }

  /** Sender thread: streams each chunk to the successor once it is ready. */
  private void sendLoop() {
    FloatBuffer floats = sendFloats;
    while (true) {
      float[] data;
      int offset;
      int length;
      int seq;
      lock.lock();
      try {
        while (!closed && (jobData == null || sendDone)) {
          changed.awaitNanos(MAX_WAIT_NANOS);
        }
        if (closed) {
          return;
        }
        data = jobData;
        offset = jobOffset;
        length = jobLength;
        seq = jobFirstSequence;
      } catch (InterruptedException e) {
        return;
      } finally {
        lock.unlock();
      }
      try {
        for (int k = 0; k < schedule.steps(); k++) {
          int s = schedule.sendSegment(k);
          int chunks = schedule.chunks(length, s);
          // What this step forwards is what the caller received at the step before.
          long before = k > 0 ? schedule.chunksReceivedBefore(length, k - 1) : 0;
          for (int c = 0; c < chunks; c++) {
            if (k > 0) {
              awaitProcessed(before + c + 1);
            }
            int len = schedule.chunkLength(length, s, c);
            floats.clear();
            floats.put(data, offset + schedule.chunkStart(length, s, c), len);
            sendBuf.clear().limit(len * 4);
            toNext.writeFrame(seq++, sendBuf, System.nanoTime() + timeoutNanos, "gradients");
          }
        }
        lock.lock();
        try {
          sendDone = true;
          changed.signalAll();
        } finally {
          lock.unlock();
        }
      } catch (Throwable t) {
        lock.lock();
        try {
          if (!closed) {
            sendFailure = t instanceof IOException
                ? new BiosException("rank " + rank + ": sending gradients to rank " + nextRank + " failed: " + t
                    + " (the peer task probably failed: its own error names the cause)", t)
                : t;
          }
          changed.signalAll();
        } finally {
          lock.unlock();
        }
        // Close only the outgoing connection: the successor fails at once. The incoming one may
        // still hold what the predecessor sent (e.g. the frame whose failure is the real cause);
        // the caller thread reads it, or fails on its own timeout or on the predecessor closing.
        toNext.close();
        return;
      }
    }
  }

  private void awaitProcessed(long count) throws InterruptedException {
    lock.lock();
    try {
      long deadline = System.nanoTime() + timeoutNanos;
      while (processed < count && !closed && sendFailure == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new BiosException("rank " + rank + ": timed out waiting for gradients from rank " + prevRank);
        }
        changed.awaitNanos(Math.min(left, MAX_WAIT_NANOS));
      }
      if (closed || sendFailure != null) {
        throw new InterruptedException("the ring was closed or broke");
      }
    } finally {
      lock.unlock();
    }
  }

  /** Marks the sender closed, closes the outgoing connection and waits for the thread to end. Idempotent. */
  void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    toNext.close();
    thread.interrupt();
    if (Threads.joinUninterruptibly(thread, false)) {
      Thread.currentThread().interrupt();
    }
  }
}
