package ai.bios.tf.collective;

import ai.bios.tf.BiosException;
import ai.bios.tf.concurrent.Cancellation;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.util.List;

/**
 * Ring all-reduce between worker processes over plain NIO sockets: reduce-scatter, then
 * all-gather, each worker sending {@code 2(N-1)/N} of the buffer to its successor, the
 * bandwidth-optimal pattern. Each step moves its segment in chunks, and a sender thread streams a
 * chunk to the successor as soon as it is reduced, so sending, receiving and reducing overlap.
 * Layers: {@link RingHandshake} authenticates the neighbours, {@link FrameChannel} moves checked
 * frames over each connection, {@link RingSchedule} says which chunk moves when, and this class
 * runs the schedule (see {@code docs/architecture.md}).
 *
 * <p>Connections are authenticated: a peer must prove the per-job secret with an HMAC-SHA256
 * challenge-response (fresh nonces on both sides) before any data flows. The secret never crosses
 * the wire. Every frame's header is checked against what the schedule expects (magic, sequence
 * number, exact length) before its payload is read into a fixed, preallocated buffer, so a
 * malformed or hostile frame closes the connection without allocating what it claims. All buffers
 * are allocated once per ring, sized for a chunk; an all-reduce step allocates none.
 *
 * <p>Deterministic: the summation order of each segment is fixed by the ring, so the same run twice
 * gives bitwise-identical sums, and every worker ends with the same bits.
 *
 * <p>Every wait has a timeout and wakes at least once a second; a peer that dies or stalls makes
 * this worker fail with a {@link BiosException} naming the peer's rank and what was awaited.
 *
 * <p>Use: {@link #listen} on the worker's own address, publish {@link Listener#address()} to the
 * other workers (Spark: one {@code BarrierTaskContext.allGather}), then {@link #connect}.
 *
 * <p>Ownership: the collective owns both connections and its {@link RingSender} (rings of two or
 * more), which runs the sender thread and says how errors cross between it and the caller's
 * thread; {@link #close()} releases them all. A failed all-reduce closes both connections: the
 * ring is unusable and the neighbours fail too.
 */
public final class RingCollective implements Collective {
  /** Most statistics one call may carry (they travel in one small frame). */
  private static final int MAX_STATS = 64;

  private final int rank;
  private final int size;
  private final int prevRank;
  private final long timeoutNanos;
  private final RingSchedule schedule;
  private final FrameChannel toNext; // null for a single worker
  private final FrameChannel fromPrev;
  private final ByteBuffer recvBuf; // caller thread
  private final FloatBuffer recvFloats; // full-capacity view of recvBuf, made once
  private final float[] scratch;
  private final ByteBuffer statsOut = ByteBuffer.allocateDirect(8 * MAX_STATS).order(ByteOrder.LITTLE_ENDIAN);
  private final double[] statsAll; // every rank's statistics, rank-major; caller thread
  private final RingSender sender; // null for a single worker
  private int sequence; // frame sequence, caller thread only (the sender has its own copy per job)

  private RingCollective(int rank, int size, RingHandshake.Links links, RingOptions options,
      Cancellation cancellation) {
    this.rank = rank;
    this.size = size;
    this.prevRank = (rank - 1 + size) % size;
    this.timeoutNanos = options.timeout().toNanos();
    this.schedule = new RingSchedule(rank, size, options.chunkFloats());
    this.toNext = links == null ? null : links.toNext();
    this.fromPrev = links == null ? null : links.fromPrev();
    int bytes = payloadBytes(options);
    this.recvBuf = ByteBuffer.allocateDirect(size > 1 ? bytes : 0).order(ByteOrder.LITTLE_ENDIAN);
    this.recvFloats = recvBuf.asFloatBuffer();
    this.scratch = new float[recvBuf.capacity() / 4];
    this.statsAll = new double[size * MAX_STATS];
    this.sender = size > 1 ? new RingSender(rank, size, schedule, toNext, timeoutNanos, bytes, cancellation) : null;
  }

  /** The largest frame payload: a chunk, or the statistics. */
  private static int payloadBytes(RingOptions options) {
    return Math.max(options.chunkFloats() * 4, 8 * MAX_STATS);
  }

  /** A bound server socket, waiting for the predecessor in the ring. */
  public static final class Listener implements AutoCloseable {
    private final ServerSocketChannel server;

    private Listener(ServerSocketChannel server) {
      this.server = server;
    }

    /** The address to publish to the other workers. */
    public InetSocketAddress address() {
      try {
        return (InetSocketAddress) server.getLocalAddress();
      } catch (IOException e) {
        throw new BiosException("ring listener has no address: " + e, e);
      }
    }

    @Override
    public void close() {
      try {
        server.close();
      } catch (IOException e) {
        // closing a listener that failed to close leaves nothing to release
      }
    }
  }

  /**
   * Binds a listener on {@code host} (the executor's own address, never the wildcard), on an
   * ephemeral port.
   */
  public static Listener listen(String host) {
    if (host == null || host.isBlank() || host.equals("0.0.0.0") || host.equals("::") || host.equals("*")) {
      throw new IllegalArgumentException("the gradient ring listens on the executor's own address, not \""
          + host + "\" (every interface)");
    }
    try {
      ServerSocketChannel server = ServerSocketChannel.open();
      try {
        server.setOption(StandardSocketOptions.SO_RCVBUF, RingHandshake.SOCKET_BUFFER);
        server.bind(new InetSocketAddress(host, 0), 128);
        return new Listener(server);
      } catch (IOException e) {
        server.close();
        throw e;
      }
    } catch (IOException e) {
      throw new BiosException("cannot listen on " + host + " for the gradient ring: " + e, e);
    }
  }

  /**
   * Joins the ring: connects to the successor and accepts the predecessor, both authenticated with
   * {@code options.secret()} (and, with {@code options.encrypt()}, every frame also encrypted and
   * authenticated with AES-256-GCM under a key derived for the connection from the secret and both
   * handshake nonces; the frame header is authenticated data, the IV the frame's sequence number,
   * never reused under one key). Closes {@code listener} (its work is done). {@code peers.get(i)}
   * is rank {@code i}'s listener address.
   */
  public static RingCollective connect(Listener listener, int rank, List<InetSocketAddress> peers,
      RingOptions options) {
    return connect(listener, rank, peers, options, Cancellation.NONE);
  }

  /**
   * {@link #connect(Listener, int, List, RingOptions)} for work that can be cancelled from outside:
   * every wait of the ring, joining it and each all-reduce, checks {@code cancellation} at least
   * once a second, so a cancelled task (on Spark: a killed one) leaves the ring within a second.
   */
  public static RingCollective connect(Listener listener, int rank, List<InetSocketAddress> peers,
      RingOptions options, Cancellation cancellation) {
    try (listener) {
      int size = peers.size();
      if (rank < 0 || rank >= size) {
        throw new IllegalArgumentException("rank " + rank + " outside [0, " + size + ")");
      }
      if (size == 1) {
        return new RingCollective(0, 1, null, options, cancellation);
      }
      RingHandshake.Links links = RingHandshake.join(listener.server, rank, peers, options, payloadBytes(options),
          cancellation);
      try {
        return new RingCollective(rank, size, links, options, cancellation);
      } catch (Throwable e) {
        links.toNext().close();
        links.fromPrev().close();
        if (e instanceof BiosException b) {
          throw b;
        }
        throw new BiosException("rank " + rank + " could not join the gradient ring: " + e, e);
      }
    }
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public void allReduce(float[] data, int offset, int length) {
    if (offset < 0 || length < 0 || offset + length > data.length) {
      throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + length) + ") of " + data.length);
    }
    if (size == 1) {
      return;
    }
    int first = sequence;
    // The same advance on every rank, so each connection's two ends agree where the next call starts.
    sequence += (int) schedule.sequenceAdvance(length);
    sender.start(data, offset, length, first);
    boolean ok = false;
    try {
      receive(data, offset, length, first);
      sender.awaitDone();
      ok = true;
    } finally {
      if (!ok) {
        fail();
      }
    }
  }

  /** Caller thread: receives every chunk in schedule order, reduces or copies it, signals the sender. */
  private void receive(float[] d, int offset, int length, int firstSequence) {
    long deadline = System.nanoTime() + timeoutNanos;
    int seq = firstSequence;
    FloatBuffer floats = recvFloats;
    try {
      for (int k = 0; k < schedule.steps(); k++) {
        int s = schedule.recvSegment(k);
        boolean reduce = schedule.reduces(k);
        int chunks = schedule.chunks(length, s);
        for (int c = 0; c < chunks; c++) {
          int len = schedule.chunkLength(length, s, c);
          recvBuf.clear().limit(len * 4);
          fromPrev.readFrame(seq++, recvBuf, deadline);
          int at = offset + schedule.chunkStart(length, s, c);
          if (reduce) {
            // Bulk-copy out of the socket buffer, then a plain array loop the JIT vectorises.
            floats.get(0, scratch, 0, len);
            for (int i = 0; i < len; i++) {
              d[at + i] += scratch[i];
            }
          } else {
            floats.get(0, d, at, len);
          }
          sender.chunkApplied();
          deadline = System.nanoTime() + timeoutNanos;
        }
      }
    } catch (IOException e) {
      throw receiveFailure(e, "receiving gradients from rank " + prevRank);
    }
  }

  /**
   * A channel closed locally means the sender thread failed first (e.g. it timed out waiting for
   * the predecessor's data) and closed the sockets under this read: its failure is the cause.
   */
  private BiosException receiveFailure(IOException e, String what) {
    Throwable first = sender.failure();
    if (e instanceof ClosedChannelException && first != null) {
      return new BiosException(first.getMessage(), first);
    }
    return new BiosException("rank " + rank + ": " + what + " failed: " + e, e);
  }

  /** A failed all-reduce leaves the ring unusable: peers see the sockets close and fail too. */
  private void fail() {
    toNext.close();
    fromPrev.close();
    sender.broken();
  }

  @Override
  public void allReduceStats(double[] stats) {
    if (size == 1) {
      return;
    }
    int n = stats.length;
    if (n > MAX_STATS) {
      throw new IllegalArgumentException("at most " + MAX_STATS + " statistics, got " + n);
    }
    // All-gather every worker's vector around the ring, then sum in rank order: exact and
    // identical on every worker.
    System.arraycopy(stats, 0, statsAll, rank * n, n);
    try {
      for (int k = 0; k < size - 1; k++) {
        int sendFrom = Math.floorMod(rank - k, size);
        int recvFrom = Math.floorMod(rank - k - 1, size);
        statsOut.clear();
        for (int i = 0; i < n; i++) {
          statsOut.putDouble(statsAll[sendFrom * n + i]);
        }
        statsOut.flip();
        exchange(statsOut, sequence++);
        for (int i = 0; i < n; i++) {
          statsAll[recvFrom * n + i] = recvBuf.getDouble(8 * i);
        }
      }
    } catch (RuntimeException e) {
      fail();
      throw e;
    }
    for (int i = 0; i < n; i++) {
      double sum = 0;
      for (int r = 0; r < size; r++) {
        sum += statsAll[r * n + i];
      }
      stats[i] = sum;
    }
  }

  /**
   * One hop of a small message: send {@code payload} to the successor, receive the predecessor's
   * (same length) into {@code recvBuf}. Small enough to sit in socket buffers, so writing before
   * reading cannot deadlock; the sender thread is idle between jobs.
   */
  private void exchange(ByteBuffer payload, int seq) {
    long deadline = System.nanoTime() + timeoutNanos;
    sender.requireUsable();
    int bytes = payload.remaining();
    try {
      toNext.writeFrame(seq, payload, deadline, "statistics");
      recvBuf.clear().limit(bytes);
      fromPrev.readFrame(seq, recvBuf, deadline);
    } catch (IOException e) {
      throw new BiosException("rank " + rank + ": exchanging statistics with rank " + prevRank + " failed: " + e, e);
    }
  }

  /**
   * Tells the successor that this worker is failing and why, so that its error names the cause
   * rather than a closed connection; call it before {@link #close()} when training fails. Best
   * effort: sent only while no all-reduce is in flight on this worker (e.g. a failure building the
   * next batch); with encryption the notice is sealed like a gradient frame. Waits at most a
   * second. Does nothing on a broken or closed ring.
   */
  public void abort(String reason) {
    if (size == 1) {
      return;
    }
    // Once idle the sender stays so: only this thread starts jobs, and it is here.
    if (sender.idle()) {
      toNext.sendAbort(sequence, reason);
    }
  }

  /** Closes both connections and stops the sender thread. Idempotent. */
  @Override
  public void close() {
    if (sender != null) {
      fromPrev.close();
      sender.close(); // closes toNext, then waits for the thread
    }
  }
}
