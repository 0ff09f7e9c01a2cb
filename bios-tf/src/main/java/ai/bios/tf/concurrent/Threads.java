package ai.bios.tf.concurrent;

import java.util.concurrent.TimeUnit;

/** The one implementation of joining the threads the engine's components start (for Bios's own use). */
public final class Threads {
  private Threads() {}

  /**
   * Waits until {@code t} has ended, even if the caller is interrupted meanwhile, and returns
   * whether it was, so the caller can restore its interrupt flag once it is done. With
   * {@code passInterrupts}, each interrupt of the caller is passed on to {@code t} so it stops sooner.
   */
  public static boolean joinUninterruptibly(Thread t, boolean passInterrupts) {
    boolean interrupted = false;
    while (t.isAlive()) {
      try {
        t.join();
      } catch (InterruptedException e) {
        interrupted = true;
        if (passInterrupts) {
          t.interrupt();
        }
      }
    }
    return interrupted;
  }

  /**
   * Waits up to {@code timeoutNanos} for {@code t} to end, even if the caller is interrupted
   * meanwhile; restores the caller's interrupt flag if one was pending or arrived. Returns whether
   * {@code t} ended.
   */
  public static boolean joinWithin(Thread t, long timeoutNanos) {
    boolean interrupted = Thread.interrupted();
    long deadline = System.nanoTime() + timeoutNanos;
    try {
      while (t.isAlive()) {
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0L) {
          return false;
        }
        try {
          TimeUnit.NANOSECONDS.timedJoin(t, remaining);
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      return true;
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
