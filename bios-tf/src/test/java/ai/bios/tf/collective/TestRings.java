package ai.bios.tf.collective;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiFunction;

/** Test helper: runs code on workers (threads of this JVM) joined by a real ring over loopback. */
public final class TestRings {
  private TestRings() {}

  /** The same job secret for {@code n} workers. */
  public static byte[][] sameSecret(int n) {
    byte[][] s = new byte[n][];
    for (int i = 0; i < n; i++) {
      s[i] = "0123456789abcdef-job-secret".getBytes();
    }
    return s;
  }

  /** Runs {@code body(rank, ring)} on {@code n} workers joined in a ring; returns their results in rank order. */
  public static <T> List<T> onRing(int n, int chunkFloats, byte[][] secrets, boolean encrypt, Duration timeout,
      BiFunction<Integer, RingCollective, T> body) throws Exception {
    List<RingCollective.Listener> listeners = new ArrayList<>();
    List<InetSocketAddress> peers = new ArrayList<>();
    for (int r = 0; r < n; r++) {
      RingCollective.Listener l = RingCollective.listen("127.0.0.1");
      listeners.add(l);
      peers.add(l.address());
    }
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<T>> futures = new ArrayList<>();
      for (int r = 0; r < n; r++) {
        final int rank = r;
        futures.add(pool.submit(() -> {
          RingOptions options = RingOptions.of(secrets[rank]).withTimeout(timeout).withChunkFloats(chunkFloats)
              .withEncrypt(encrypt);
          try (RingCollective ring = RingCollective.connect(listeners.get(rank), rank, peers, options)) {
            return body.apply(rank, ring);
          }
        }));
      }
      List<T> results = new ArrayList<>();
      for (Future<T> f : futures) {
        results.add(f.get());
      }
      return results;
    } finally {
      pool.shutdownNow();
      for (RingCollective.Listener l : listeners) {
        l.close();
      }
    }
  }
}
