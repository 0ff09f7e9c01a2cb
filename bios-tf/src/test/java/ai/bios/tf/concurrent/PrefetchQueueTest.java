package ai.bios.tf.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tests of {@link PrefetchQueue}. No test sleeps to synchronise: threads meet on latches and
 * semaphores, and where the only observable is "the feeder is parked on the full queue" the test
 * first waits until the producer has produced the expected number of items, then polls the feeder
 * thread's state (nothing else touches the queue meanwhile, so WAITING can only mean parked on
 * {@code notFull}).
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class PrefetchQueueTest {

  private static final AtomicInteger NAMES = new AtomicInteger();

  /** An item that counts how many of its kind are open and notices double closes. */
  static final class CountingItem implements AutoCloseable {
    final int id;
    private final Tracker tracker;
    private final AtomicBoolean closed = new AtomicBoolean();

    CountingItem(int id, Tracker tracker) {
      this.id = id;
      this.tracker = tracker;
      tracker.open.incrementAndGet();
    }

    @Override
    public void close() {
      if (closed.compareAndSet(false, true)) {
        tracker.open.decrementAndGet();
      } else {
        tracker.doubleCloses.incrementAndGet();
      }
    }
  }

  /** Shared counters of one test's items, and the feeder thread as the producer saw it. */
  static final class Tracker {
    final AtomicInteger open = new AtomicInteger();
    final AtomicInteger produced = new AtomicInteger();
    final AtomicInteger doubleCloses = new AtomicInteger();
    final AtomicReference<Thread> feeder = new AtomicReference<>();

    /** Called inside the producer: records the feeder thread and makes the next item. */
    CountingItem make() {
      feeder.compareAndSet(null, Thread.currentThread());
      return new CountingItem(produced.getAndIncrement(), this);
    }

    /** Records the feeder thread without producing. */
    void seen() {
      feeder.compareAndSet(null, Thread.currentThread());
    }

    void assertAllClosedAndFeederGone() {
      assertEquals(0, open.get(), "items produced but never closed");
      assertEquals(0, doubleCloses.get(), "items closed twice");
      Thread t = feeder.get();
      if (t != null) {
        assertFalse(t.isAlive(), "feeder thread still alive after close()");
      }
    }
  }

  private static String uniqueName(String what) {
    return "pq-test-" + what + "-" + NAMES.incrementAndGet();
  }

  /** Producer of {@code n} items, then end of data. */
  private static PrefetchQueue.Producer<CountingItem> finite(Tracker tr, int n) {
    return () -> {
      tr.seen();
      return tr.produced.get() < n ? Optional.of(tr.make()) : Optional.empty();
    };
  }

  /** Producer that never ends. */
  private static PrefetchQueue.Producer<CountingItem> endless(Tracker tr) {
    return () -> Optional.of(tr.make());
  }

  private static void spinUntil(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        fail("timed out waiting until " + what);
      }
      Thread.onSpinWait();
      Thread.yield();
    }
  }

  /**
   * Waits until the producer has made {@code atLeast} items and the feeder thread then stops (parks
   * or ends). Call only while no other thread uses the queue.
   */
  private static void awaitFeederIdleAfter(Tracker tr, int atLeast) {
    spinUntil("the producer made " + atLeast + " items", () -> tr.produced.get() >= atLeast);
    Thread t = tr.feeder.get();
    spinUntil(
        "the feeder parks or ends",
        () -> {
          Thread.State s = t.getState();
          // The feeder waits for room in slices of at most a second (it checks the cancellation).
          return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING || s == Thread.State.TERMINATED;
        });
  }

  private static int countThreadsNamed(String prefix) {
    int n = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith(prefix) && t.isAlive()) {
        n++;
      }
    }
    return n;
  }

  // ---------------------------------------------------------------- order and end of data

  @Test
  void itemsArriveInProductionOrderAndEndOfDataIsReportedRepeatedlyAfterTheLast() throws Exception {
    Tracker tr = new Tracker();
    AtomicInteger calls = new AtomicInteger();
    PrefetchQueue.Producer<CountingItem> p =
        () -> {
          calls.incrementAndGet();
          return finite(tr, 10).next();
        };
    try (PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(p, 3, uniqueName("order")).start()) {
      for (int i = 0; i < 10; i++) {
        Optional<CountingItem> item = q.take();
        assertTrue(item.isPresent(), "item " + i + " missing");
        assertEquals(i, item.get().id);
        item.get().close();
      }
      for (int i = 0; i < 3; i++) {
        assertEquals(Optional.empty(), q.take(), "end of data, call " + i);
      }
      assertEquals(11, calls.get(), "producer called again after it reported end of data");
    }
    tr.assertAllClosedAndFeederGone();
  }

  // ---------------------------------------------------------------- bound

  @Test
  void feederNeverHoldsMoreThanDepthBufferedPlusOneInHandWithASlowConsumer() throws Exception {
    Tracker tr = new Tracker();
    int depth = 3;
    int total = 20;
    try (PrefetchQueue<CountingItem> q =
        PrefetchQueue.fixed(finite(tr, total), depth, uniqueName("bound")).start()) {
      // The consumer is gated: it takes nothing until the feeder has filled the queue and parked.
      awaitFeederIdleAfter(tr, depth + 1);
      assertEquals(depth + 1, tr.produced.get(), "produced beyond depth + 1 with nobody taking");
      assertEquals(depth, q.maxBuffered());
      assertEquals(depth + 1, tr.open.get());

      int taken = 0;
      while (true) {
        Optional<CountingItem> item = q.take();
        if (item.isEmpty()) {
          break;
        }
        assertEquals(taken, item.get().id);
        item.get().close();
        taken++;
        int expected = Math.min(taken + depth + 1, total);
        awaitFeederIdleAfter(tr, expected);
        assertEquals(
            expected, tr.produced.get(), "produced-but-not-taken exceeded depth + 1 after " + taken);
        assertTrue(q.maxBuffered() <= depth, "maxBuffered " + q.maxBuffered() + " > " + depth);
      }
      assertEquals(total, taken);
      assertEquals(depth, q.depth(), "a fixed queue's depth changed");
    }
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void aFeederWaitingForRoomStopsOnceCancelledAndReportsItAfterTheBufferedItems() throws Exception {
    Tracker tr = new Tracker();
    CountingCancellation cancel = new CountingCancellation(2, false);
    try (PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(finite(tr, 100), 1, uniqueName("cancel"))
        .withCancellation(cancel).start()) {
      awaitFeederIdleAfter(tr, 2); // one buffered, one in hand, waiting for room
      cancel.arm();
      // The feeder gives up on its own (the consumer is not waiting, so only its checks can see it).
      spinUntil("the feeder ends", () -> tr.feeder.get().getState() == Thread.State.TERMINATED);
      CountingItem first = q.take().orElseThrow();
      assertEquals(0, first.id);
      first.close();
      PrefetchQueue.FeederException e = assertThrows(PrefetchQueue.FeederException.class, q::take);
      assertInstanceOf(CountingCancellation.Cancelled.class, e.getCause());
    }
    tr.assertAllClosedAndFeederGone();
  }

  // ---------------------------------------------------------------- errors

  @Test
  void feederExceptionSurfacesAfterEarlierItemsWithOriginalCauseAndAgainOnLaterTakes()
      throws Exception {
    Tracker tr = new Tracker();
    IOException original = new IOException("disk on fire");
    String name = uniqueName("error");
    PrefetchQueue.Producer<CountingItem> p =
        () -> {
          if (tr.produced.get() < 2) {
            return Optional.of(tr.make());
          }
          throw original;
        };
    try (PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(p, 4, name).start()) {
      for (int i = 0; i < 2; i++) {
        try (CountingItem item = q.take().orElseThrow()) {
          assertEquals(i, item.id);
        }
      }
      PrefetchQueue.FeederException e1 = assertThrows(PrefetchQueue.FeederException.class, q::take);
      assertSame(original, e1.getCause());
      assertTrue(e1.getMessage().contains(name), e1.getMessage());
      PrefetchQueue.FeederException e2 = assertThrows(PrefetchQueue.FeederException.class, q::take);
      assertSame(original, e2.getCause());
    }
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void runtimeExceptionsAndErrorsThrownByTheProducerBothSurface() throws Exception {
    List<Throwable> failures =
        List.of(
            new IllegalStateException("bad state"),
            new AssertionError("assertion in producer"),
            new OutOfMemoryError("simulated"));
    for (Throwable failure : failures) {
      Tracker tr = new Tracker();
      PrefetchQueue.Producer<CountingItem> p =
          () -> {
            tr.seen();
            if (tr.produced.get() == 0) {
              return Optional.of(tr.make());
            }
            if (failure instanceof Error err) {
              throw err;
            }
            throw (RuntimeException) failure;
          };
      try (PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(p, 2, uniqueName("rte")).start()) {
        q.take().orElseThrow().close();
        PrefetchQueue.FeederException e =
            assertThrows(PrefetchQueue.FeederException.class, q::take, failure.toString());
        assertSame(failure, e.getCause());
      }
      tr.assertAllClosedAndFeederGone();
    }
  }

  // ---------------------------------------------------------------- close in every state

  @Test
  void closeBeforeStartNeverRunsTheProducerAndLeavesTheQueueUnusable() {
    Tracker tr = new Tracker();
    PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(endless(tr), 2, uniqueName("unstarted"));
    q.close();
    assertEquals(0, tr.produced.get());
    assertThrows(IllegalStateException.class, q::start);
    IllegalStateException e = assertThrows(IllegalStateException.class, q::take);
    assertEquals("PrefetchQueue closed", e.getMessage());
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void closeWhileFeederIsBlockedOnAFullQueueClosesBufferedAndInHandItems() {
    Tracker tr = new Tracker();
    PrefetchQueue<CountingItem> q =
        PrefetchQueue.fixed(endless(tr), 2, uniqueName("full")).start();
    awaitFeederIdleAfter(tr, 3);
    assertEquals(3, tr.open.get(), "2 buffered + 1 in the feeder's hand");
    q.close();
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void closeWhileFeederIsBlockedInsideTheProducerInterruptsItAndClosesEverything()
      throws Exception {
    Tracker tr = new Tracker();
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    PrefetchQueue.Producer<CountingItem> p =
        () -> {
          if (tr.produced.get() < 2) {
            return Optional.of(tr.make());
          }
          inside.countDown();
          try {
            never.await();
          } catch (InterruptedException e) {
            interrupted.set(true);
            throw e;
          }
          return Optional.of(tr.make());
        };
    PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(p, 5, uniqueName("inside")).start();
    assertTrue(inside.await(10, TimeUnit.SECONDS));
    long t0 = System.nanoTime();
    q.close();
    assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "close() waited for a join");
    assertTrue(interrupted.get(), "the producer was not interrupted");
    assertEquals(2, tr.produced.get());
    assertNull(q.cleanupFailure(), "unexpected cleanup failure");
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void closeDuringProductionMakesTheFeederCloseTheItemItCouldNotEnqueue() throws Exception {
    Tracker tr = new Tracker();
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    AtomicReference<CountingItem> lateItem = new AtomicReference<>();
    PrefetchQueue.Producer<CountingItem> p =
        () -> {
          if (tr.produced.get() < 1) {
            return Optional.of(tr.make());
          }
          inside.countDown();
          try {
            never.await();
          } catch (InterruptedException e) {
            // A producer that finishes its item despite the interrupt.
            Thread.currentThread().interrupt();
          }
          CountingItem item = tr.make();
          lateItem.set(item);
          return Optional.of(item);
        };
    PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(p, 4, uniqueName("inhand")).start();
    assertTrue(inside.await(10, TimeUnit.SECONDS));
    q.close();
    assertNotNull(lateItem.get(), "the producer did not finish its item");
    assertTrue(lateItem.get().closed.get(), "the item produced during close() leaked");
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void closeWakesAConsumerBlockedInTakeOnAnotherThreadWithIllegalStateException()
      throws Exception {
    Tracker tr = new Tracker();
    CountDownLatch never = new CountDownLatch(1);
    PrefetchQueue.Producer<CountingItem> p =
        () -> {
          tr.seen();
          never.await();
          return Optional.of(tr.make());
        };
    PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(p, 2, uniqueName("wake")).start();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread consumer =
        new Thread(
            () -> {
              try {
                q.take();
              } catch (Throwable e) {
                thrown.set(e);
              }
            },
            "pq-test-consumer");
    consumer.start();
    // consumerWaits is bumped in the same lock hold that then awaits, so seeing it under the lock
    // means the consumer is parked in take().
    spinUntil("the consumer waits in take()", () -> q.consumerWaits() == 1);
    q.close();
    consumer.join(TimeUnit.SECONDS.toMillis(10));
    assertFalse(consumer.isAlive(), "consumer still blocked in take() after close()");
    assertInstanceOf(IllegalStateException.class, thrown.get());
    assertEquals("PrefetchQueue closed", thrown.get().getMessage());
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void closeAfterEndOfDataClosesItemsNeverTakenAndLeavesNoFeeder() throws Exception {
    Tracker tr = new Tracker();
    PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(finite(tr, 3), 4, uniqueName("end"));
    q.start();
    q.take().orElseThrow().close();
    // The feeder enqueues the end marker (it takes no slot) and ends on its own.
    spinUntil("the producer ran", () -> tr.feeder.get() != null);
    tr.feeder.get().join(TimeUnit.SECONDS.toMillis(10));
    assertFalse(tr.feeder.get().isAlive(), "feeder did not end after end of data");
    assertEquals(2, tr.open.get());
    q.close();
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void closeAfterAllItemsAndEndOfDataWereTaken() {
    Tracker tr = new Tracker();
    PrefetchQueue<CountingItem> q =
        PrefetchQueue.fixed(finite(tr, 3), 1, uniqueName("drained")).start();
    Optional<CountingItem> item;
    while ((item = q.take()).isPresent()) {
      item.get().close();
    }
    q.close();
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void closeTwiceIsHarmless() {
    Tracker tr = new Tracker();
    PrefetchQueue<CountingItem> q =
        PrefetchQueue.fixed(endless(tr), 2, uniqueName("twice")).start();
    q.take().orElseThrow().close();
    q.close();
    q.close();
    tr.assertAllClosedAndFeederGone();
    assertThrows(IllegalStateException.class, q::take);
  }

  @Test
  void itemsThatFailToCloseDoNotStopCleanupAndCloseThrowsNothing() {
    AtomicInteger closes = new AtomicInteger();
    AtomicInteger made = new AtomicInteger();
    CountDownLatch full = new CountDownLatch(1);
    PrefetchQueue.Producer<AutoCloseable> p =
        () -> {
          int n = made.incrementAndGet();
          if (n == 4) {
            full.countDown();
          }
          return Optional.of(
              () -> {
                closes.incrementAndGet();
                throw new IOException("close failed " + n);
              });
        };
    PrefetchQueue<AutoCloseable> q = PrefetchQueue.fixed(p, 3, uniqueName("badclose")).start();
    try {
      assertTrue(full.await(10, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    q.close(); // must not throw
    assertEquals(4, closes.get(), "3 buffered + 1 in hand, each closed despite failures");
    Throwable f = q.cleanupFailure();
    assertInstanceOf(IOException.class, f);
    assertEquals(3, f.getSuppressed().length);
  }

  @Test
  void theProducerIsNotClosedEvenIfItIsAutoCloseable() {
    Tracker tr = new Tracker();
    AtomicBoolean producerClosed = new AtomicBoolean();
    final class ClosableProducer implements PrefetchQueue.Producer<CountingItem>, AutoCloseable {
      @Override
      public Optional<CountingItem> next() {
        return Optional.of(tr.make());
      }

      @Override
      public void close() {
        producerClosed.set(true);
      }
    }
    PrefetchQueue<CountingItem> q =
        PrefetchQueue.fixed(new ClosableProducer(), 2, uniqueName("owner")).start();
    q.take().orElseThrow().close();
    q.close();
    assertFalse(producerClosed.get());
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void noFeederThreadIsLeftBehindAfter50OpenCloseCycles() {
    String prefix = uniqueName("leak") + "-";
    assertEquals(0, countThreadsNamed(prefix));
    Tracker tr = new Tracker();
    for (int i = 0; i < 50; i++) {
      PrefetchQueue<CountingItem> q =
          PrefetchQueue.fixed(endless(tr), 1 + i % 3, prefix + i).start();
      if (i % 2 == 0) {
        q.take().orElseThrow().close();
      }
      q.close();
    }
    assertEquals(0, countThreadsNamed(prefix), "feeder threads alive after close()");
    assertEquals(0, tr.open.get());
    assertEquals(0, tr.doubleCloses.get());
  }

  // ---------------------------------------------------------------- misuse

  @Test
  void takeAfterCloseThrowsIllegalStateException() {
    Tracker tr = new Tracker();
    PrefetchQueue<CountingItem> q =
        PrefetchQueue.fixed(finite(tr, 5), 2, uniqueName("after")).start();
    q.take().orElseThrow().close();
    q.close();
    IllegalStateException e = assertThrows(IllegalStateException.class, q::take);
    assertEquals("PrefetchQueue closed", e.getMessage());
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void invalidDepthAndSettingsAreRejectedNamingTheSettingAndValue() {
    Tracker tr = new Tracker();
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> PrefetchQueue.fixed(endless(tr), 0, uniqueName("bad")));
    assertTrue(e.getMessage().contains("prefetchDepth"), e.getMessage());
    assertTrue(e.getMessage().contains("0"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> PrefetchQueue.fixed(endless(tr), -1, uniqueName("bad")));
    assertThrows(
        IllegalArgumentException.class,
        () -> PrefetchQueue.auto(endless(tr), 0, 100, uniqueName("bad")));
    PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(endless(tr), 1, uniqueName("bad"));
    IllegalArgumentException t =
        assertThrows(IllegalArgumentException.class, () -> q.withTakeTimeout(Duration.ZERO));
    assertTrue(t.getMessage().contains("takeTimeout"), t.getMessage());
    assertThrows(IllegalStateException.class, q::take, "take() before start()");
    q.start();
    assertThrows(IllegalStateException.class, q::start, "second start()");
    assertThrows(
        IllegalStateException.class,
        () -> q.withTakeTimeout(Duration.ofSeconds(1)),
        "withTakeTimeout after start()");
    q.close();
    tr.assertAllClosedAndFeederGone();
  }

  // ---------------------------------------------------------------- auto depth

  @Test
  void autoDepthGrowsEachTimeTheConsumerWaitsAndStopsAtTheMemoryBudget() throws Exception {
    Tracker tr = new Tracker();
    Semaphore gate = new Semaphore(0);
    PrefetchQueue.Producer<CountingItem> p =
        () -> {
          gate.acquire();
          return Optional.of(tr.make());
        };
    // (depth + 1) * 100 <= 350 allows depth 3 at most.
    PrefetchQueue<CountingItem> q = PrefetchQueue.auto(p, 100, 350, uniqueName("auto")).start();
    assertEquals(1, q.depth());
    AtomicReference<Throwable> consumerFailure = new AtomicReference<>();
    int rounds = 6;
    Thread consumer =
        new Thread(
            () -> {
              try {
                for (int i = 0; i < rounds; i++) {
                  q.take().orElseThrow().close();
                }
              } catch (Throwable e) {
                consumerFailure.set(e);
              }
            },
            "pq-test-auto-consumer");
    consumer.start();
    List<Integer> depths = new ArrayList<>();
    for (int i = 1; i <= rounds; i++) {
      int waits = i;
      // The producer is gated, so the consumer finds the queue empty and waits each round.
      spinUntil("consumer wait " + waits, () -> q.consumerWaits() == waits);
      depths.add(q.depth());
      gate.release();
    }
    consumer.join(TimeUnit.SECONDS.toMillis(10));
    assertFalse(consumer.isAlive());
    if (consumerFailure.get() != null) {
      throw new AssertionError("consumer failed", consumerFailure.get());
    }
    assertEquals(List.of(2, 3, 3, 3, 3, 3), depths);
    assertEquals(rounds, q.consumerWaits());
    assertTrue(q.consumerWaitNanos() > 0);
    // Let the feeder run free with nobody taking: it fills 3 slots, never more.
    gate.release(100);
    awaitFeederIdleAfter(tr, rounds + 4);
    assertEquals(rounds + 4, tr.produced.get(), "3 buffered + 1 in hand, no more");
    assertEquals(3, q.maxBuffered());
    assertEquals(3, q.depth());
    q.close();
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void fixedDepthDoesNotGrowWhenTheConsumerWaits() throws Exception {
    Tracker tr = new Tracker();
    Semaphore gate = new Semaphore(0);
    PrefetchQueue.Producer<CountingItem> p =
        () -> {
          gate.acquire();
          return Optional.of(tr.make());
        };
    PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(p, 1, uniqueName("nogrow")).start();
    Thread consumer =
        new Thread(
            () -> {
              for (int i = 0; i < 3; i++) {
                q.take().orElseThrow().close();
              }
            },
            "pq-test-nogrow-consumer");
    consumer.start();
    for (int i = 1; i <= 3; i++) {
      int waits = i;
      spinUntil("consumer wait " + waits, () -> q.consumerWaits() == waits);
      gate.release();
    }
    consumer.join(TimeUnit.SECONDS.toMillis(10));
    assertEquals(1, q.depth());
    q.close();
    tr.assertAllClosedAndFeederGone();
  }

  // ---------------------------------------------------------------- timeout and interrupt

  @Test
  void takeTimesOutWhenTheFeederProducesNothingAndNamesTheSettingToRaise() throws Exception {
    Tracker tr = new Tracker();
    CountDownLatch never = new CountDownLatch(1);
    PrefetchQueue.Producer<CountingItem> p =
        () -> {
          tr.seen();
          never.await();
          return Optional.of(tr.make());
        };
    PrefetchQueue<CountingItem> q =
        PrefetchQueue.fixed(p, 2, uniqueName("timeout"))
            .withTakeTimeout(Duration.ofMillis(200))
            .start();
    PrefetchQueue.QueueTimeoutException e =
        assertThrows(PrefetchQueue.QueueTimeoutException.class, q::take);
    assertInstanceOf(TimeoutException.class, e.getCause());
    assertTrue(e.getMessage().contains("takeTimeout"), e.getMessage());
    assertTrue(e.getMessage().contains("200 ms"), e.getMessage());
    assertTrue(e.getMessage().contains("produced nothing"), e.getMessage());
    assertTrue(q.consumerWaitNanos() >= TimeUnit.MILLISECONDS.toNanos(200));
    q.close();
    tr.assertAllClosedAndFeederGone();
  }

  @Test
  void interruptingAConsumerBlockedInTakeThrowsAndKeepsItsInterruptFlag() throws Exception {
    Tracker tr = new Tracker();
    CountDownLatch never = new CountDownLatch(1);
    PrefetchQueue.Producer<CountingItem> p =
        () -> {
          tr.seen();
          never.await();
          return Optional.of(tr.make());
        };
    PrefetchQueue<CountingItem> q = PrefetchQueue.fixed(p, 2, uniqueName("intr")).start();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicBoolean flagAfterTake = new AtomicBoolean();
    AtomicBoolean flagAfterClose = new AtomicBoolean();
    Thread consumer =
        new Thread(
            () -> {
              try {
                q.take();
              } catch (Throwable e) {
                thrown.set(e);
                flagAfterTake.set(Thread.currentThread().isInterrupted());
              }
              // try-with-resources would close here, with the interrupt still pending.
              q.close();
              flagAfterClose.set(Thread.currentThread().isInterrupted());
            },
            "pq-test-intr-consumer");
    consumer.start();
    spinUntil("the consumer waits in take()", () -> q.consumerWaits() == 1);
    consumer.interrupt();
    consumer.join(TimeUnit.SECONDS.toMillis(10));
    assertFalse(consumer.isAlive());
    assertInstanceOf(CancellationException.class, thrown.get());
    assertInstanceOf(InterruptedException.class, thrown.get().getCause());
    assertTrue(flagAfterTake.get(), "interrupt flag swallowed by take()");
    assertTrue(flagAfterClose.get(), "interrupt flag swallowed by close()");
    tr.assertAllClosedAndFeederGone();
  }
}
