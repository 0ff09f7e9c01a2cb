package ai.bios.tf.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BiosException;
import ai.bios.tf.Synthetic;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;

/** The ring all-reduce over real loopback sockets, one thread per worker. */
@Timeout(60)
class RingCollectiveTest {
  private static final byte[] SECRET = TestRings.sameSecret(1)[0];
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  /** Runs {@code body(rank, collective)} on {@code n} workers joined in a ring; returns their results. */
  static <T> List<T> onRing(int n, int chunkFloats, byte[][] secrets, BiFunction<Integer, RingCollective, T> body)
      throws Exception {
    return onRing(n, chunkFloats, secrets, false, body);
  }

  static <T> List<T> onRing(int n, int chunkFloats, byte[][] secrets, boolean encrypt,
      BiFunction<Integer, RingCollective, T> body) throws Exception {
    return onRing(n, chunkFloats, secrets, encrypt, TIMEOUT, body);
  }

  static <T> List<T> onRing(int n, int chunkFloats, byte[][] secrets, boolean encrypt, Duration timeout,
      BiFunction<Integer, RingCollective, T> body) throws Exception {
    return TestRings.onRing(n, chunkFloats, secrets, encrypt, timeout, body);
  }

  static RingOptions options(byte[] secret, Duration timeout) {
    return RingOptions.of(secret).withTimeout(timeout).withChunkFloats(64);
  }

  /**
   * The raw socket of a ring's connection to its successor (the ring's {@code toNext} channel), to
   * write bytes no honest ring would.
   */
  static SocketChannel rawSocketToNext(RingCollective ring) throws ReflectiveOperationException {
    java.lang.reflect.Field f = RingCollective.class.getDeclaredField("toNext");
    f.setAccessible(true);
    Object channel = f.get(ring);
    java.lang.reflect.Field s = FrameChannel.class.getDeclaredField("socket");
    s.setAccessible(true);
    return (SocketChannel) s.get(channel);
  }

  static byte[][] sameSecret(int n) {
    return TestRings.sameSecret(n);
  }

  static float[] input(int rank, int length) {
    SplittableRandom rnd = new SplittableRandom(1000 + rank);
    float[] v = new float[length];
    for (int i = 0; i < length; i++) {
      v[i] = (float) rnd.nextGaussian();
    }
    return v;
  }

  @Test
  void sumsEqualAPlainSumForSizesThatDoAndDoNotDivideByTheWorkerCountOneToFourWorkers() throws Exception {
    for (int n = 1; n <= 4; n++) {
      for (int length : new int[] {0, 1, 3, 4, 7, 1000, 12_345}) {
        final int len = length;
        final int workers = n;
        // A small chunk forces many chunks per segment, so the pipelining is exercised.
        List<float[]> out = onRing(n, 64, sameSecret(n), (rank, ring) -> {
          float[] v = input(rank, len);
          ring.allReduce(v, 0, len);
          return v;
        });
        float[][] inputs = new float[workers][];
        for (int r = 0; r < workers; r++) {
          inputs[r] = input(r, len);
        }
        for (int i = 0; i < len; i++) {
          double expected = 0;
          for (int r = 0; r < workers; r++) {
            expected += inputs[r][i];
          }
          assertEquals(expected, out.get(0)[i], 1e-5, "n=" + n + " length=" + len + " element " + i);
        }
        for (int r = 1; r < n; r++) {
          assertArrayEquals(out.get(0), out.get(r), "every worker ends with the same bits (n=" + n + ")");
        }
      }
    }
  }

  @Test
  void repeatedAllReducesStayInStepWhenSegmentsHaveDifferentChunkCounts() throws Exception {
    // 193 floats over 3 workers in chunks of 64: segments of 65, 64, 64 floats, so 2, 1, 1 chunks.
    for (boolean encrypt : new boolean[] {false, true}) {
      List<float[]> out = onRing(3, 64, sameSecret(3), encrypt, (rank, ring) -> {
        float[] v = input(rank, 193);
        ring.allReduce(v, 0, v.length);
        ring.allReduce(v, 0, v.length);
        double[] stats = {rank, 1};
        ring.allReduceStats(stats);
        assertEquals(3, stats[1], 0.0);
        return v;
      });
      for (int i = 0; i < 193; i++) {
        double once = 0;
        for (int r = 0; r < 3; r++) {
          once += input(r, 193)[i];
        }
        assertEquals(3 * once, out.get(0)[i], 1e-4, "element " + i + " (encrypt=" + encrypt + ")");
      }
      for (int r = 1; r < 3; r++) {
        assertArrayEquals(out.get(0), out.get(r));
      }
    }
  }

  @Test
  void encryptedRingsSumExactlyLikePlainOnesOneToFourWorkers() throws Exception {
    for (int n = 1; n <= 4; n++) {
      for (int length : new int[] {1, 7, 5000}) {
        final int len = length;
        List<float[]> plain = onRing(n, 64, sameSecret(n), false, (rank, ring) -> {
          float[] v = input(rank, len);
          ring.allReduce(v, 0, len);
          return v;
        });
        List<Object> sealed = onRing(n, 64, sameSecret(n), true, (rank, ring) -> {
          float[] v = input(rank, len);
          double[] stats = {rank, 1};
          ring.allReduce(v, stats);
          return new Object[] {v, stats};
        });
        for (int r = 0; r < n; r++) {
          Object[] out = (Object[]) sealed.get(r);
          assertArrayEquals(plain.get(r), (float[]) out[0], "n=" + n + " length=" + len);
          assertEquals(n, ((double[]) out[1])[1], 0.0);
        }
      }
    }
  }

  @Test
  void withEncryptionAForgedFrameFailsAuthentication() throws Exception {
    List<Object> outcomes = onRing(2, 64, sameSecret(2), true, (rank, ring) -> {
      try {
        if (rank == 1) {
          // A well-formed header for chunk 0 (5 floats + 16-byte tag), then bytes nobody sealed.
          SocketChannel ch = rawSocketToNext(ring);
          ByteBuffer frame = ByteBuffer.allocate(12 + 36).putInt(0xB105DA7A).putInt(0).putInt(36);
          frame.put(new byte[36]).flip();
          while (frame.hasRemaining()) {
            ch.write(frame);
          }
          return "forged";
        }
        float[] v = new float[10];
        ring.allReduce(v, 0, 10);
        return "finished";
      } catch (ReflectiveOperationException | IOException | BiosException e) {
        return e;
      }
    });
    Object rank0 = outcomes.get(0);
    assertInstanceOf(BiosException.class, rank0);
    Throwable cause = ((BiosException) rank0).getCause();
    assertTrue(cause != null && cause.getMessage().contains("failed authentication"), String.valueOf(rank0));
  }

  @Test
  void theSameReductionTwiceIsBitwiseIdenticalAndStatisticsAreExact() throws Exception {
    List<float[]> a = onRing(3, 100, sameSecret(3), (rank, ring) -> {
      float[] v = input(rank, 5000);
      ring.allReduce(v, 0, v.length);
      ring.allReduce(v, 0, v.length); // and a second all-reduce on the same connections
      return v;
    });
    List<float[]> b = onRing(3, 100, sameSecret(3), (rank, ring) -> {
      float[] v = input(rank, 5000);
      ring.allReduce(v, 0, v.length);
      ring.allReduce(v, 0, v.length);
      return v;
    });
    assertArrayEquals(a.get(0), b.get(0));
    List<double[]> stats = onRing(4, 100, sameSecret(4), (rank, ring) -> {
      double[] s = {0.1 * (rank + 1), rank == 2 ? 0 : 32};
      float[] v = input(rank, 10);
      ring.allReduce(v, s);
      return s;
    });
    for (double[] s : stats) {
      assertEquals(0.1 + 0.2 + 0.30000000000000004 + 0.4, s[0], 0.0);
      assertEquals(96, s[1], 0.0);
    }
  }

  @Test
  void aPeerWithAWrongSecretIsRefusedAndNoGradientsFlow() throws Exception {
    RingCollective.Listener l0 = RingCollective.listen("127.0.0.1");
    RingCollective.Listener l1 = RingCollective.listen("127.0.0.1");
    List<InetSocketAddress> peers = List.of(l0.address(), l1.address());
    byte[] wrong = "another-secret-of-16+-bytes".getBytes();
    Duration shortTimeout = Duration.ofSeconds(3);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<RingCollective> r0 = pool.submit(() -> RingCollective.connect(l0, 0, peers, options(SECRET, shortTimeout)));
      Future<RingCollective> r1 = pool.submit(() -> RingCollective.connect(l1, 1, peers, options(wrong, shortTimeout)));
      List<String> messages = new ArrayList<>();
      for (Future<RingCollective> f : List.of(r0, r1)) {
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, f::get);
        assertInstanceOf(BiosException.class, e.getCause());
        messages.add(e.getCause().getMessage());
      }
      assertTrue(messages.stream().anyMatch(m -> m.contains("failed to prove the job secret")), messages.toString());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aClientWithoutTheSecretIsDroppedAndTheListenerStillServesTheRealPeer() throws Exception {
    RingCollective.Listener l0 = RingCollective.listen("127.0.0.1");
    RingCollective.Listener l1 = RingCollective.listen("127.0.0.1");
    List<InetSocketAddress> peers = List.of(l0.address(), l1.address());
    // Intruders: raw garbage, a truncated hello, a 2 GB length claim; then the real peer joins.
    for (byte[] garbage : new byte[][] {
        "GET / HTTP/1.1\r\n\r\n".getBytes(), new byte[] {0x42, 0x49},
        ByteBuffer.allocate(12).putInt(0xB105DA7A).putInt(0).putInt(Integer.MAX_VALUE).array()}) {
      try (SocketChannel intruder = SocketChannel.open(l0.address())) {
        intruder.write(ByteBuffer.wrap(garbage));
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<float[]> r0 = pool.submit(() -> {
        try (RingCollective ring = RingCollective.connect(l0, 0, peers, options(SECRET, TIMEOUT))) {
          float[] v = {1, 2, 3};
          ring.allReduce(v, 0, 3);
          return v;
        }
      });
      Future<float[]> r1 = pool.submit(() -> {
        try (RingCollective ring = RingCollective.connect(l1, 1, peers, options(SECRET, TIMEOUT))) {
          float[] v = {10, 20, 30};
          ring.allReduce(v, 0, 3);
          return v;
        }
      });
      assertArrayEquals(new float[] {11, 22, 33}, r0.get());
      assertArrayEquals(new float[] {11, 22, 33}, r1.get());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aSilentClientHoldsTheListenerOnlyForTheAuthenticationTimeout() throws Exception {
    RingCollective.Listener l0 = RingCollective.listen("127.0.0.1");
    RingCollective.Listener l1 = RingCollective.listen("127.0.0.1");
    List<InetSocketAddress> peers = List.of(l0.address(), l1.address());
    // Connects first (a blocking connect: it is queued before rank 1 starts) and never speaks. With the default 10 s to authenticate it would hold rank 0's
    // listener past the 4 s join timeout; with 300 ms the real peer is accepted next.
    RingOptions options = options(SECRET, Duration.ofSeconds(4)).withAuthTimeout(Duration.ofMillis(300));
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (SocketChannel silent = SocketChannel.open(l0.address())) {
      Future<float[]> r0 = pool.submit(() -> {
        try (RingCollective ring = RingCollective.connect(l0, 0, peers, options)) {
          float[] v = {1, 2};
          ring.allReduce(v, 0, 2);
          return v;
        }
      });
      // The silent client is first in the accept queue: its blocking connect completed before rank 1
      // could connect.
      Future<float[]> r1 = pool.submit(() -> {
        try (RingCollective ring = RingCollective.connect(l1, 1, peers, options)) {
          float[] v = {10, 20};
          ring.allReduce(v, 0, 2);
          return v;
        }
      });
      assertArrayEquals(new float[] {11, 22}, r0.get());
      assertArrayEquals(new float[] {11, 22}, r1.get());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aPeerThatDiesMidAllReduceMakesTheOthersFailNamingARankInsteadOfHanging() throws Exception {
    long before = Synthetic.liveThreads("bios-ring");
    List<Object> outcomes = onRing(3, 16, sameSecret(3), (rank, ring) -> {
      float[] v = input(rank, 100_000);
      if (rank == 1) {
        ring.close(); // dies before taking part
        return "closed";
      }
      try {
        ring.allReduce(v, 0, v.length);
        return "finished";
      } catch (BiosException e) {
        return e;
      }
    });
    for (int r : new int[] {0, 2}) {
      Object o = outcomes.get(r);
      assertInstanceOf(BiosException.class, o, "rank " + r + " should fail, got " + o);
      String m = ((BiosException) o).getMessage();
      assertTrue(m.contains("rank"), m);
    }
    assertEquals(before, Synthetic.liveThreads("bios-ring"), "no ring thread left behind");
  }

  @ParameterizedTest(name = "encrypted: {0}")
  @ValueSource(booleans = {false, true})
  void aWorkerThatAbortsTellsItsSuccessorWhy(boolean encrypt) throws Exception {
    List<Object> outcomes = onRing(2, 64, sameSecret(2), encrypt, TIMEOUT, (rank, ring) -> {
      if (rank == 1) {
        ring.abort("BadInputException: column 'features', row 100: has 3 values");
        return "aborted"; // and closes
      }
      try {
        ring.allReduce(new float[10], 0, 10);
        return "finished";
      } catch (BiosException e) {
        return e;
      }
    });
    assertInstanceOf(BiosException.class, outcomes.get(0), String.valueOf(outcomes.get(0)));
    String m = ((BiosException) outcomes.get(0)).getMessage();
    assertTrue(m.contains("rank 0: rank 1 failed: BadInputException: column 'features', row 100"), m);
  }

  @Test
  void aPeerThatStallsMidRunMakesTheOthersTimeOutNamingWhatTheyAwaited() throws Exception {
    java.util.concurrent.CountDownLatch othersDone = new java.util.concurrent.CountDownLatch(2);
    List<Object> outcomes = onRing(3, 64, sameSecret(3), false, Duration.ofSeconds(2), (rank, ring) -> {
      if (rank == 1) {
        // Alive and connected, but never takes part: no data, no close.
        try {
          othersDone.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return "stalled";
      }
      try {
        float[] v = input(rank, 100_000);
        ring.allReduce(v, 0, v.length);
        return "finished";
      } catch (BiosException e) {
        return e;
      } finally {
        othersDone.countDown();
      }
    });
    // Rank 2 waits on rank 1 and times out naming it; rank 0 then fails too (by its own timeout
    // or because rank 2 dropped out): nobody hangs.
    assertInstanceOf(BiosException.class, outcomes.get(2), String.valueOf(outcomes.get(2)));
    String m2 = ((BiosException) outcomes.get(2)).getMessage();
    assertTrue(m2.contains("rank 2") && m2.contains("rank 1") && m2.contains("timed out"), m2);
    assertInstanceOf(BiosException.class, outcomes.get(0), String.valueOf(outcomes.get(0)));
  }

  @Test
  void theListenerRefusesToBindEveryInterface() {
    for (String wildcard : new String[] {"0.0.0.0", "::", ""}) {
      IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> RingCollective.listen(wildcard));
      assertTrue(e.getMessage().contains("executor's own address"), e.getMessage());
    }
    try (RingCollective.Listener l = RingCollective.listen("127.0.0.1")) {
      assertEquals("127.0.0.1", l.address().getAddress().getHostAddress());
    }
  }

  @Test
  void aFuzzOfRandomBytesAtTheListenerNeverBreaksItAndTheRealPeersStillJoin() throws Exception {
    RingCollective.Listener l0 = RingCollective.listen("127.0.0.1");
    RingCollective.Listener l1 = RingCollective.listen("127.0.0.1");
    List<InetSocketAddress> peers = List.of(l0.address(), l1.address());
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<float[]> r0 = pool.submit(() -> {
        try (RingCollective ring = RingCollective.connect(l0, 0, peers, options(SECRET, TIMEOUT))) {
          float[] v = {1, 2};
          ring.allReduce(v, 0, 2);
          return v;
        }
      });
      // 200 connections of random bytes (bounded: at most 300 bytes each) while rank 0 listens.
      SplittableRandom rnd = new SplittableRandom(42);
      for (int i = 0; i < 200; i++) {
        byte[] junk = new byte[rnd.nextInt(300)];
        for (int j = 0; j < junk.length; j++) {
          junk[j] = (byte) rnd.nextInt(256);
        }
        if (i % 7 == 0 && junk.length >= 4) {
          ByteBuffer.wrap(junk).putInt(0x42494f52); // sometimes a valid magic, to go deeper
        }
        try (SocketChannel intruder = SocketChannel.open(l0.address())) {
          intruder.write(ByteBuffer.wrap(junk));
        } catch (java.net.ConnectException | java.nio.channels.ClosedChannelException e) {
          // a full accept backlog refuses a flood: fine, as long as the real peer gets in below
        } catch (IOException e) {
          // the listener dropped us mid-write: what it should do with junk
        }
      }
      Future<float[]> r1 = pool.submit(() -> {
        try (RingCollective ring = RingCollective.connect(l1, 1, peers, options(SECRET, TIMEOUT))) {
          float[] v = {10, 20};
          ring.allReduce(v, 0, 2);
          return v;
        }
      });
      assertArrayEquals(new float[] {11, 22}, r0.get());
      assertArrayEquals(new float[] {11, 22}, r1.get());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aMalformedFrameClosesTheConnectionWithoutAllocatingWhatItClaims() throws Exception {
    // Rank 1 is a hostile peer that passes the handshake (it has the secret) but then sends a frame
    // claiming 2 GB: rank 0 must reject the header and fail cleanly.
    List<Object> outcomes = onRing(2, 64, sameSecret(2), (rank, ring) -> {
      if (rank == 1) {
        try {
          SocketChannel ch = rawSocketToNext(ring);
          ByteBuffer frame = ByteBuffer.allocate(12).putInt(0xB105DA7A).putInt(0).putInt(Integer.MAX_VALUE);
          frame.flip();
          while (frame.hasRemaining()) {
            ch.write(frame);
          }
          float[] v = new float[10];
          ring.allReduce(v, 0, 10);
          return "finished";
        } catch (ReflectiveOperationException | IOException | BiosException e) {
          return e;
        }
      }
      try {
        float[] v = new float[10];
        ring.allReduce(v, 0, 10);
        return "finished";
      } catch (BiosException e) {
        return e;
      }
    });
    Object rank0 = outcomes.get(0);
    assertInstanceOf(BiosException.class, rank0);
    Throwable cause = ((BiosException) rank0).getCause();
    assertTrue(cause != null && cause.getMessage().contains("malformed frame"), String.valueOf(rank0));
    assertFalse(outcomes.get(1) instanceof String, "the hostile side cannot finish either");
  }
}
