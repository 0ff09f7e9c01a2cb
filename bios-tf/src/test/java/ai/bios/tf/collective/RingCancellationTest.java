package ai.bios.tf.collective;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.concurrent.CountingCancellation;
import ai.bios.tf.concurrent.CountingCancellation.Cancelled;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A cancelled worker leaves the ring at its next check (every wait wakes at least once a second),
 * not when the ring's timeout (here ten minutes) runs out: while joining, and inside an all-reduce
 * whose peer has gone silent.
 */
class RingCancellationTest {
  private static final byte[] SECRET = "0123456789abcdef-job-secret".getBytes();
  private static final Duration LONG = Duration.ofMinutes(10);

  private static Throwable rootOf(Throwable t) {
    Throwable c = t;
    while (!(c instanceof Cancelled) && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aWorkerWaitingForPeersThatNeverJoinLeavesOnceCancelled() {
    RingCollective.Listener mine = RingCollective.listen("127.0.0.1");
    // A peer whose listener exists (the kernel accepts the connection) but who never joins.
    try (RingCollective.Listener silent = RingCollective.listen("127.0.0.1")) {
      List<InetSocketAddress> peers = List.of(mine.address(), silent.address());
      CountingCancellation cancel = new CountingCancellation(3, true);
      RuntimeException e = assertThrows(RuntimeException.class,
          () -> RingCollective.connect(mine, 0, peers, RingOptions.of(SECRET).withTimeout(LONG), cancel));
      assertTrue(rootOf(e) instanceof Cancelled, "ended by the cancellation, not a timeout: " + e);
      assertTrue(cancel.checks() >= 3);
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aWorkerWhosePeerIsGoneBeforeItConnectsLeavesOnceCancelled() {
    RingCollective.Listener mine = RingCollective.listen("127.0.0.1");
    RingCollective.Listener gone = RingCollective.listen("127.0.0.1");
    InetSocketAddress goneAddress = gone.address();
    gone.close(); // its executor died after the rendezvous: connecting is refused, retried until cancelled
    List<InetSocketAddress> peers = List.of(mine.address(), goneAddress);
    CountingCancellation cancel = new CountingCancellation(3, true);
    RuntimeException e = assertThrows(RuntimeException.class,
        () -> RingCollective.connect(mine, 0, peers, RingOptions.of(SECRET).withTimeout(LONG), cancel));
    assertTrue(rootOf(e) instanceof Cancelled, "ended by the cancellation, not a timeout: " + e);
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void anAllReduceWhosePeerFellSilentEndsOnceCancelled() throws Exception {
    RingCollective.Listener l0 = RingCollective.listen("127.0.0.1");
    RingCollective.Listener l1 = RingCollective.listen("127.0.0.1");
    List<InetSocketAddress> peers = List.of(l0.address(), l1.address());
    CountingCancellation cancel = new CountingCancellation(3, false);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<RingCollective> r1 = pool.submit(() ->
          RingCollective.connect(l1, 1, peers, RingOptions.of(SECRET).withTimeout(LONG)));
      try (RingCollective r0 = RingCollective.connect(l0, 0, peers, RingOptions.of(SECRET).withTimeout(LONG), cancel);
          RingCollective silent = r1.get()) {
        cancel.arm(); // rank 1 is joined, alive and connected, but never takes part in an all-reduce
        float[] grads = new float[1 << 16];
        RuntimeException e = assertThrows(RuntimeException.class, () -> r0.allReduce(grads, new double[2]));
        assertTrue(rootOf(e) instanceof Cancelled, "ended by the cancellation, not a timeout: " + e);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
