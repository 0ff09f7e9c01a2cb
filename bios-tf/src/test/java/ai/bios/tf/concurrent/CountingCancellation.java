package ai.bios.tf.concurrent;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test helper: a cancellation that is checked, counts its checks, and cancels at the {@code n}-th
 * one. A wait that ends with {@link Cancelled} proves it woke and checked at least {@code n} times;
 * a wait that never checks hangs instead (the tests bound that with a JUnit timeout).
 */
public final class CountingCancellation implements Cancellation {
  /** What a cancelled wait throws. */
  public static final class Cancelled extends RuntimeException {
    public Cancelled(String message) {
      super(message);
    }
  }

  private final int cancelAt;
  private final AtomicInteger checks = new AtomicInteger();
  private volatile boolean armed;

  /** Cancels at the {@code cancelAt}-th check after {@link #arm()} (at once if armed from the start). */
  public CountingCancellation(int cancelAt, boolean armed) {
    this.cancelAt = cancelAt;
    this.armed = armed;
  }

  /** Starts counting towards cancellation. */
  public void arm() {
    armed = true;
  }

  public int checks() {
    return checks.get();
  }

  @Override
  public void check() {
    if (armed && checks.incrementAndGet() >= cancelAt) {
      throw new Cancelled("cancelled at check " + checks.get());
    }
  }
}
