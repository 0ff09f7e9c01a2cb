package ai.bios.examples;

import ai.bios.tf.collective.RingCollective;
import ai.bios.tf.collective.RingOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The all-reduce against the physical limit of its traffic pattern, over loopback: for each buffer
 * size and worker count, (a) a raw ring exchange, each peer streaming to its successor exactly the
 * bytes a ring all-reduce moves (2(N-1)/N of the buffer) with no protocol and no reduction, and (b)
 * Bios's RingCollective all-reduce. Reports bus bandwidth as nccl-tests defines it
 * (algbw x 2(N-1)/N) and, as the last line, JSON. A second baseline streams each peer's bytes from
 * and into a buffer of the all-reduce's size instead of a cache-resident one: the memory traffic
 * every all-reduce pays (it must read the gradients to send them and write the sums), which the
 * first baseline leaves out. Workers are threads of this JVM, each with its
 * own sockets, so every byte crosses the loopback TCP stack.
 *
 * <pre>examples/bin/run-example AllReduceBench [--iterations N]</pre>
 */
public final class AllReduceBench {
  private AllReduceBench() {}

  private static final byte[] SECRET = "allreduce-bench-secret-0123456789".getBytes();

  public static void main(String[] args) throws Exception {
    Args a = new Args(args);
    int iterations = Integer.parseInt(a.get("iterations", "5"));
    a.requireConsumed();
    int[] sizesMb = {1, 16, 128};
    int[] workerCounts = {2, 4};
    StringBuilder json = new StringBuilder();
    double ratio16 = Double.NaN;
    double memRatio16 = Double.NaN;
    for (int n : workerCounts) {
      for (int mb : sizesMb) {
        long bytes = (long) mb << 20;
        double raw = median(measure(iterations, () -> rawRing(n, bytes, false)));
        double rawMem = median(measure(iterations, () -> rawRing(n, bytes, true)));
        double bios = median(measure(iterations, () -> biosRing(n, (int) (bytes / 4), false)));
        double factor = 2.0 * (n - 1) / n;
        double rawBus = bytes / raw * factor / 1e9;
        double rawMemBus = bytes / rawMem * factor / 1e9;
        double biosBus = bytes / bios * factor / 1e9;
        System.out.printf(Locale.ROOT, "%d workers %4d MB: raw ring %.3f GB/s busbw (%.1f ms), raw ring from memory "
                + "%.3f GB/s (%.1f ms), bios %.3f GB/s busbw (%.1f ms), ratio %.3f, ratio vs from-memory %.3f%n",
            n, mb, rawBus, raw * 1e3, rawMemBus, rawMem * 1e3, biosBus, bios * 1e3, biosBus / rawBus,
            biosBus / rawMemBus);
        if (n == 2 && mb == 16) {
          ratio16 = biosBus / rawBus;
          memRatio16 = biosBus / rawMemBus;
        }
        json.append(json.length() == 0 ? "" : ",").append(String.format(Locale.ROOT,
            "{\"workers\":%d,\"mb\":%d,\"raw_busbw_gbps\":%.4f,\"raw_from_memory_busbw_gbps\":%.4f,"
                + "\"bios_busbw_gbps\":%.4f,\"ratio\":%.4f,\"ratio_vs_from_memory\":%.4f}",
            n, mb, rawBus, rawMemBus, biosBus, biosBus / rawBus, biosBus / rawMemBus));
      }
    }
    StringBuilder encrypted = new StringBuilder();
    double encRatio16 = Double.NaN;
    for (int mb : new int[] {16, 128}) {
      long bytes = (long) mb << 20;
      double raw = median(measure(iterations, () -> rawRing(2, bytes, false)));
      double enc = median(measure(iterations, () -> biosRing(2, (int) (bytes / 4), true)));
      double ratio = raw / enc;
      System.out.printf(Locale.ROOT, "2 workers %4d MB encrypted (AES-GCM): bios %.3f GB/s busbw, ratio %.3f%n",
          mb, bytes / enc / 1e9, ratio);
      if (mb == 16) {
        encRatio16 = ratio;
      }
      encrypted.append(encrypted.length() == 0 ? "" : ",").append(String.format(Locale.ROOT,
          "{\"workers\":2,\"mb\":%d,\"bios_busbw_gbps\":%.4f,\"ratio\":%.4f}", mb, bytes / enc / 1e9, ratio));
    }
    double single = (128L << 20) / median(measure(iterations, () -> singleStream(128L << 20))) / 1e9;
    System.out.printf(Locale.ROOT, "single-stream raw TCP: %.3f GB/s%n", single);
    System.out.printf(Locale.ROOT,
        "{\"busbw_ratio\":%.4f,\"busbw_ratio_vs_from_memory\":%.4f,\"busbw_ratio_encrypted\":%.4f,"
            + "\"single_stream_gbps\":%.4f,\"cores\":%d,\"results\":[%s],\"encrypted\":[%s]}%n",
        ratio16, memRatio16, encRatio16, single, Runtime.getRuntime().availableProcessors(), json, encrypted);
  }

  private interface Timed {
    double seconds() throws Exception;
  }

  private static double[] measure(int iterations, Timed t) throws Exception {
    t.seconds(); // warm-up
    double[] s = new double[iterations];
    for (int i = 0; i < iterations; i++) {
      s[i] = t.seconds();
    }
    return s;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  /**
   * Each peer sends 2(N-1)/N of the buffer to its successor while receiving as much from its
   * predecessor. With {@code fromMemory} false both ends reuse one 256 KiB buffer that stays in the
   * CPU cache (the definition of the limit); with it true each peer sends from and receives
   * into a buffer of the all-reduce's size, walking through it as an all-reduce must walk through
   * the gradients, so the memory traffic any all-reduce pays is in the baseline too.
   */
  private static double rawRing(int n, long bytes, boolean fromMemory) throws Exception {
    long perPeer = (long) (bytes * 2.0 * (n - 1) / n);
    List<ServerSocketChannel> servers = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      servers.add(ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0)));
    }
    java.util.concurrent.ThreadPoolExecutor pool =
        (java.util.concurrent.ThreadPoolExecutor) Executors.newFixedThreadPool(2 * n);
    pool.prestartAllCoreThreads(); // thread start-up outside the timed part, as for the Bios ring
    try {
      List<SocketChannel> out = new ArrayList<>();
      List<SocketChannel> in = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        out.add(SocketChannel.open(servers.get((i + 1) % n).getLocalAddress()));
      }
      for (int i = 0; i < n; i++) {
        in.add(servers.get(i).accept());
      }
      for (int i = 0; fromMemory && i < n; i++) {
        memoryFor(i, bytes); // allocated and touched outside the timed part
      }
      long t0 = System.nanoTime();
      List<Future<?>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        SocketChannel o = out.get(i);
        SocketChannel r = in.get(i);
        ByteBuffer memory = fromMemory ? memoryFor(i, bytes) : null;
        fs.add(pool.submit((Callable<Void>) () -> {
          stream(o, perPeer, memory);
          return null;
        }));
        fs.add(pool.submit((Callable<Void>) () -> {
          drain(r, perPeer, memory);
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
      double s = (System.nanoTime() - t0) / 1e9;
      for (int i = 0; i < n; i++) {
        out.get(i).close();
        in.get(i).close();
      }
      return s;
    } finally {
      pool.shutdownNow();
      for (ServerSocketChannel s : servers) {
        s.close();
      }
    }
  }

  private static double biosRing(int n, int floats, boolean encrypt) throws Exception {
    List<RingCollective.Listener> listeners = new ArrayList<>();
    List<InetSocketAddress> peers = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      listeners.add(RingCollective.listen("127.0.0.1"));
      peers.add(listeners.get(i).address());
    }
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<RingCollective>> joined = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        final int rank = i;
        joined.add(pool.submit(() -> RingCollective.connect(listeners.get(rank), rank, peers,
            RingOptions.of(SECRET).withTimeout(Duration.ofSeconds(60)).withEncrypt(encrypt))));
      }
      List<RingCollective> rings = new ArrayList<>();
      for (Future<RingCollective> f : joined) {
        rings.add(f.get());
      }
      float[][] data = new float[n][floats];
      long t0 = System.nanoTime();
      List<Future<?>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        final int rank = i;
        fs.add(pool.submit(() -> rings.get(rank).allReduce(data[rank], 0, floats)));
      }
      for (Future<?> f : fs) {
        f.get();
      }
      double s = (System.nanoTime() - t0) / 1e9;
      rings.forEach(RingCollective::close);
      return s;
    } finally {
      pool.shutdownNow();
      listeners.forEach(RingCollective.Listener::close);
    }
  }

  private static double singleStream(long bytes) throws Exception {
    try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        SocketChannel out = SocketChannel.open(server.getLocalAddress());
        SocketChannel in = server.accept()) {
      java.util.concurrent.ThreadPoolExecutor pool =
          (java.util.concurrent.ThreadPoolExecutor) Executors.newFixedThreadPool(1);
      pool.prestartAllCoreThreads();
      try {
        long t0 = System.nanoTime();
        Future<?> r = pool.submit((Callable<Void>) () -> {
          drain(in, bytes);
          return null;
        });
        stream(out, bytes);
        r.get();
        return (System.nanoTime() - t0) / 1e9;
      } finally {
        pool.shutdownNow();
      }
    }
  }

  private static final int PIECE = 256 << 10;
  private static final List<ByteBuffer> MEMORY = new ArrayList<>();

  /** Peer {@code i}'s buffer of {@code bytes}, reused across measurements of the same size. */
  private static synchronized ByteBuffer memoryFor(int i, long bytes) {
    while (MEMORY.size() <= i) {
      MEMORY.add(null);
    }
    ByteBuffer b = MEMORY.get(i);
    if (b == null || b.capacity() != bytes) {
      b = ByteBuffer.allocateDirect((int) bytes);
      for (int p = 0; p < b.capacity(); p += 4096) {
        b.put(p, (byte) 1);
      }
      MEMORY.set(i, b);
    }
    return b.duplicate();
  }

  /** The next piece to send or receive: a reused cached buffer, or the next slice of {@code memory}. */
  private static ByteBuffer piece(ByteBuffer cached, ByteBuffer memory, long done, long left) {
    int n = (int) Math.min(PIECE, left);
    if (memory == null) {
      return cached.clear().limit(n);
    }
    int at = (int) (done % memory.capacity());
    n = Math.min(n, memory.capacity() - at);
    return memory.limit(at + n).position(at);
  }

  private static void stream(SocketChannel ch, long bytes) throws IOException {
    stream(ch, bytes, null);
  }

  private static void stream(SocketChannel ch, long bytes, ByteBuffer memory) throws IOException {
    ByteBuffer cached = memory == null ? ByteBuffer.allocateDirect(PIECE) : null;
    long done = 0;
    while (done < bytes) {
      ByteBuffer buf = piece(cached, memory, done, bytes - done);
      while (buf.hasRemaining()) {
        done += ch.write(buf);
      }
    }
  }

  private static void drain(SocketChannel ch, long bytes) throws IOException {
    drain(ch, bytes, null);
  }

  private static void drain(SocketChannel ch, long bytes, ByteBuffer memory) throws IOException {
    ByteBuffer memoryView = memory == null ? null : memory.duplicate();
    ByteBuffer cached = memory == null ? ByteBuffer.allocateDirect(PIECE) : null;
    long done = 0;
    while (done < bytes) {
      ByteBuffer buf = piece(cached, memoryView, done, bytes - done);
      while (buf.hasRemaining()) {
        int n = ch.read(buf);
        if (n < 0) {
          throw new IOException("peer closed with " + (bytes - done) + " bytes to go");
        }
        done += n;
      }
    }
  }
}
