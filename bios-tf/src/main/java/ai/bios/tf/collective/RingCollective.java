package ai.bios.tf.collective;

import ai.bios.tf.BiosException;
import ai.bios.tf.Threads;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.FloatBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Ring all-reduce between worker processes over plain NIO sockets: reduce-scatter, then
 * all-gather, each worker sending {@code 2(N-1)/N} of the buffer to its successor, the
 * bandwidth-optimal pattern. Each step moves its segment in chunks, and a sender thread streams a
 * chunk to the successor as soon as it is reduced, so sending, receiving and reducing overlap.
 *
 * <p>Connections are authenticated: a peer must prove the per-job secret with an HMAC-SHA256
 * challenge-response (fresh nonces on both sides) before any data flows. The secret never crosses
 * the wire. Every frame's header is checked against what the schedule expects (magic, sequence
 * number, exact length) before its payload is read into a fixed, preallocated buffer, so a
 * malformed or hostile frame closes the connection without allocating what it claims.
 *
 * <p>Deterministic: the summation order of each segment is fixed by the ring, so the same run twice
 * gives bitwise-identical sums, and every worker ends with the same bits.
 *
 * <p>Every wait has a timeout; a peer that dies or stalls makes this worker fail with a
 * {@link BiosException} naming the peer's rank and what was awaited.
 *
 * <p>Use: {@link #listen} on the worker's own address, publish {@link Listener#address()} to the
 * other workers (Spark: one {@code BarrierTaskContext.allGather}), then {@link #connect}. The
 * collective owns its sockets and its sender thread; {@link #close()} releases them.
 */
public final class RingCollective implements Collective {
  private static final int HELLO_MAGIC = 0x42494f52; // "BIOR"
  private static final short VERSION = 1;
  private static final int FRAME_MAGIC = 0xB105DA7A;
  private static final int ABORT_MAGIC = 0xB105AB07; // "this worker is failing", with the reason
  private static final int MAX_ABORT_BYTES = 2048;
  private static final int NONCE = 32;
  private static final int MAC = 32;
  private static final int HEADER = 12;
  private static final byte ACCEPTED = 0x5A;

  /** Socket buffers large enough that a chunk rarely waits for buffer space. */
  private static final int SOCKET_BUFFER = 4 << 20;

  /** Default chunk: 256 KiB of floats. */
  public static final int DEFAULT_CHUNK_FLOATS = 64 * 1024;

  private final int rank;
  private final int size;
  private final int prevRank;
  private final int nextRank;
  private final long timeoutNanos;
  private final int chunkFloats;
  private final SocketChannel toNext;
  private final SocketChannel fromPrev;
  private final Selector readSelector;
  private final Selector writeSelector;
  private final ByteBuffer recvBuf;
  private final ByteBuffer sendBuf;
  private final FrameSeal sendSeal; // AES-GCM per direction when encrypting, else null
  private final FrameSeal recvSeal;
  private final FloatBuffer recvFloats; // full-capacity views, made once
  private final float[] scratch;
  private final FloatBuffer sendFloats;
  private final ByteBuffer header = ByteBuffer.allocateDirect(HEADER).order(ByteOrder.BIG_ENDIAN);
  private final ByteBuffer sendHeader = ByteBuffer.allocateDirect(HEADER).order(ByteOrder.BIG_ENDIAN);
  private final Thread sender;

  // Hand-off between the caller (receives, reduces) and the sender thread.
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private Job job; // guarded by lock
  private long processed; // chunks of the current job received and applied; guarded by lock
  private boolean sendDone; // guarded by lock
  private Throwable sendFailure; // guarded by lock
  private boolean closed; // guarded by lock
  private int sequence; // frame sequence, caller thread only (the sender has its own copy per job)

  private RingCollective(int rank, int size, SocketChannel toNext, SocketChannel fromPrev,
      Duration timeout, int chunkFloats, byte[] sendKey, byte[] recvKey) throws IOException {
    this.rank = rank;
    this.size = size;
    this.prevRank = (rank - 1 + size) % size;
    this.nextRank = (rank + 1) % size;
    this.timeoutNanos = timeout.toNanos();
    this.chunkFloats = chunkFloats;
    this.toNext = toNext;
    this.fromPrev = fromPrev;
    int bytes = Math.max(chunkFloats * 4, 8 * 64);
    this.recvBuf = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
    this.sendBuf = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
    this.sendSeal = sendKey == null ? null : new FrameSeal(sendKey, bytes);
    this.recvSeal = recvKey == null ? null : new FrameSeal(recvKey, bytes);
    this.recvFloats = recvBuf.asFloatBuffer();
    this.scratch = new float[bytes / 4];
    this.sendFloats = sendBuf.asFloatBuffer();
    if (size > 1) {
      toNext.configureBlocking(false);
      fromPrev.configureBlocking(false);
      readSelector = Selector.open();
      writeSelector = Selector.open();
      fromPrev.register(readSelector, SelectionKey.OP_READ);
      toNext.register(writeSelector, SelectionKey.OP_WRITE);
      sender = new Thread(this::sendLoop, "bios-ring-sender-" + rank);
      sender.setDaemon(true);
      sender.start();
    } else {
      readSelector = null;
      writeSelector = null;
      sender = null;
    }
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
        server.setOption(java.net.StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER);
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
   * {@code secret}. Closes {@code listener} (its work is done). {@code peers.get(i)} is rank
   * {@code i}'s listener address.
   */
  public static RingCollective connect(Listener listener, int rank, List<InetSocketAddress> peers,
      byte[] secret, Duration timeout, int chunkFloats) {
    return connect(listener, rank, peers, secret, timeout, chunkFloats, false);
  }

  /**
   * As {@link #connect(Listener, int, List, byte[], Duration, int)}; with {@code encrypt}, every
   * frame is also encrypted and authenticated with AES-256-GCM under a key derived for this
   * connection from the secret and both handshake nonces (the frame header is authenticated data,
   * the IV is the frame's sequence number, never reused under one key).
   */
  public static RingCollective connect(Listener listener, int rank, List<InetSocketAddress> peers,
      byte[] secret, Duration timeout, int chunkFloats, boolean encrypt) {
    int size = peers.size();
    if (rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + size + ")");
    }
    if (secret == null || secret.length < 16) {
      throw new IllegalArgumentException("the job secret must have at least 16 bytes");
    }
    if (chunkFloats < 1) {
      throw new IllegalArgumentException("chunkFloats must be >= 1, was " + chunkFloats);
    }
    try (listener) {
      if (size == 1) {
        return new RingCollective(0, 1, null, null, timeout, chunkFloats, null, null);
      }
      long deadline = System.nanoTime() + timeout.toNanos();
      int prev = (rank - 1 + size) % size;
      int next = (rank + 1) % size;
      // Accept (and authenticate) the predecessor on a helper thread while this thread connects to
      // the successor: every worker does both, so doing them in turn would deadlock the ring.
      Acceptor acceptor = new Acceptor(listener.server, rank, prev, size, secret, deadline);
      Thread t = new Thread(acceptor, "bios-ring-accept-" + rank);
      t.setDaemon(true);
      t.start();
      SocketChannel toNext = null;
      try {
        byte[][] sendKey = new byte[1][];
        toNext = connectTo(peers.get(next), rank, next, size, secret, deadline, sendKey);
        joinUntil(t, deadline);
        if (acceptor.failure != null) {
          throw acceptor.failure;
        }
        if (acceptor.channel == null) {
          throw new BiosException("rank " + rank + ": rank " + prev + " did not connect to the gradient ring within "
              + timeout + "; it may have failed or be unreachable");
        }
        return new RingCollective(rank, size, toNext, acceptor.channel, timeout, chunkFloats,
            encrypt ? sendKey[0] : null, encrypt ? acceptor.key : null);
      } catch (Throwable e) {
        t.interrupt();
        acceptor.abandon();
        closeQuietly(toNext);
        if (e instanceof BiosException b) {
          throw b;
        }
        throw new BiosException("rank " + rank + " could not join the gradient ring: " + e, e);
      }
    } catch (IOException e) {
      throw new BiosException("rank " + rank + " could not join the gradient ring: " + e, e);
    }
  }

  private static void joinUntil(Thread t, long deadline) throws InterruptedException {
    long left = deadline - System.nanoTime();
    if (left > 0) {
      TimeUnit.NANOSECONDS.timedJoin(t, left);
    }
  }

  /**
   * Opens a TCP connection to the successor. A refused connection (its accept backlog is full: a
   * flood, or many peers at once) is retried after a short pause until the deadline.
   */
  private static SocketChannel open(InetSocketAddress address, int rank, int next, long deadline) throws IOException {
    while (true) {
      SocketChannel ch = SocketChannel.open();
      try {
        ch.socket().setTcpNoDelay(true);
        ch.setOption(java.net.StandardSocketOptions.SO_SNDBUF, SOCKET_BUFFER);
        ch.configureBlocking(false);
        ch.connect(address);
        try (Selector sel = Selector.open()) {
          ch.register(sel, SelectionKey.OP_CONNECT);
          while (!ch.finishConnect()) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
              throw new BiosException("rank " + rank + ": connecting to rank " + next + " at " + address + " timed out");
            }
            sel.select(left);
          }
        }
        return ch;
      } catch (java.net.ConnectException e) {
        ch.close();
        if (System.nanoTime() >= deadline) {
          throw new BiosException("rank " + rank + ": rank " + next + " at " + address + " refused the connection", e);
        }
        java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
      } catch (IOException | RuntimeException e) {
        ch.close();
        throw e;
      }
    }
  }

  private static SocketChannel connectTo(InetSocketAddress address, int rank, int next, int size,
      byte[] secret, long deadline, byte[][] keyOut) throws IOException {
    SocketChannel ch = open(address, rank, next, deadline);
    try {
      byte[] clientNonce = nonce();
      ByteBuffer hello = ByteBuffer.allocate(14 + NONCE).order(ByteOrder.BIG_ENDIAN);
      hello.putInt(HELLO_MAGIC).putShort(VERSION).putInt(rank).putInt(size).put(clientNonce).flip();
      writeFully(ch, hello, deadline, rank, next, "handshake");
      ByteBuffer reply = ByteBuffer.allocate(NONCE + MAC);
      readFully(ch, reply, deadline, rank, next, "the handshake reply");
      byte[] serverNonce = new byte[NONCE];
      byte[] serverMac = new byte[MAC];
      reply.flip();
      reply.get(serverNonce).get(serverMac);
      if (!MessageDigest.isEqual(serverMac, mac(secret, "server", clientNonce, serverNonce, rank, next, size))) {
        throw new BiosException("rank " + rank + ": the peer at " + address + " (expected rank " + next
            + ") failed to prove the job secret; refusing to send it gradients");
      }
      ByteBuffer proof = ByteBuffer.wrap(mac(secret, "client", serverNonce, clientNonce, rank, next, size));
      writeFully(ch, proof, deadline, rank, next, "handshake");
      ByteBuffer ok = ByteBuffer.allocate(1);
      readFully(ch, ok, deadline, rank, next, "handshake acceptance");
      if (ok.get(0) != ACCEPTED) {
        throw new BiosException("rank " + rank + ": rank " + next + " refused the handshake");
      }
      keyOut[0] = mac(secret, "key", clientNonce, serverNonce, rank, next, size);
      return ch;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** Accepts connections until one proves the secret as the expected predecessor. */
  private static final class Acceptor implements Runnable {
    private final ServerSocketChannel server;
    private final int rank;
    private final int prev;
    private final int size;
    private final byte[] secret;
    private final long deadline;
    volatile SocketChannel channel;
    volatile byte[] key;
    volatile BiosException failure;
    private volatile boolean abandoned;

    Acceptor(ServerSocketChannel server, int rank, int prev, int size, byte[] secret, long deadline) {
      this.server = server;
      this.rank = rank;
      this.prev = prev;
      this.size = size;
      this.secret = secret;
      this.deadline = deadline;
    }

    void abandon() {
      abandoned = true;
      closeQuietly(channel);
    }

    @Override
    public void run() {
      try (Selector sel = Selector.open()) {
        server.configureBlocking(false);
        server.register(sel, SelectionKey.OP_ACCEPT);
        while (!abandoned) {
          long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
          if (left <= 0) {
            return; // connect() reports the missing predecessor
          }
          sel.select(left);
          SocketChannel ch = server.accept();
          if (ch == null) {
            continue;
          }
          try {
            authenticate(ch);
            if (abandoned) {
              ch.close();
              return;
            }
            channel = ch;
            return;
          } catch (IOException | RuntimeException e) {
            // A peer without the secret, or garbage: drop it and keep waiting for the real one.
            closeQuietly(ch);
          }
        }
      } catch (IOException e) {
        failure = new BiosException("rank " + rank + ": the gradient ring listener failed: " + e, e);
      }
    }

    private void authenticate(SocketChannel ch) throws IOException {
      ch.configureBlocking(false);
      ch.socket().setTcpNoDelay(true);
      // Authentication gets a short deadline of its own: a silent client cannot hold the listener.
      long authDeadline = Math.min(deadline, System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
      ByteBuffer hello = ByteBuffer.allocate(14 + NONCE).order(ByteOrder.BIG_ENDIAN);
      readFully(ch, hello, authDeadline, rank, prev, "the handshake");
      hello.flip();
      if (hello.getInt() != HELLO_MAGIC || hello.getShort() != VERSION) {
        throw new IOException("not a Bios ring peer");
      }
      int peerRank = hello.getInt();
      int peerSize = hello.getInt();
      if (peerRank != prev || peerSize != size) {
        throw new IOException("peer claims rank " + peerRank + " of " + peerSize + ", expected " + prev + " of " + size);
      }
      byte[] clientNonce = new byte[NONCE];
      hello.get(clientNonce);
      byte[] serverNonce = nonce();
      ByteBuffer reply = ByteBuffer.allocate(NONCE + MAC);
      reply.put(serverNonce).put(mac(secret, "server", clientNonce, serverNonce, prev, rank, size)).flip();
      writeFully(ch, reply, authDeadline, rank, prev, "handshake");
      ByteBuffer proof = ByteBuffer.allocate(MAC);
      readFully(ch, proof, authDeadline, rank, prev, "the handshake proof");
      if (!MessageDigest.isEqual(proof.array(), mac(secret, "client", serverNonce, clientNonce, prev, rank, size))) {
        throw new IOException("peer failed to prove the job secret");
      }
      writeFully(ch, ByteBuffer.wrap(new byte[] {ACCEPTED}), authDeadline, rank, prev, "handshake");
      key = mac(secret, "key", clientNonce, serverNonce, prev, rank, size);
    }
  }

  private static byte[] nonce() {
    byte[] n = new byte[NONCE];
    new SecureRandom().nextBytes(n);
    return n;
  }

  private static byte[] mac(byte[] secret, String role, byte[] first, byte[] second, int from, int to, int size) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      mac.update(("bios-ring-" + role).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      mac.update(first);
      mac.update(second);
      mac.update(ByteBuffer.allocate(12).putInt(from).putInt(to).putInt(size).array());
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  private static void readFully(SocketChannel ch, ByteBuffer buf, long deadline, int rank, int peer, String what)
      throws IOException {
    try (Selector sel = Selector.open()) {
      ch.register(sel, SelectionKey.OP_READ);
      readFully(ch, sel, buf, deadline, rank, peer, what);
    }
  }

  private static void readFully(SocketChannel ch, Selector sel, ByteBuffer buf, long deadline, int rank, int peer,
      String what) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.read(buf);
      if (n < 0) {
        throw new BiosException("rank " + rank + ": rank " + peer + " closed the connection while rank " + rank
            + " awaited " + what + " (the peer task probably failed: its own error names the cause)");
      }
      if (n == 0 && !awaitReady(sel, deadline)) {
        throw new BiosException("rank " + rank + ": timed out waiting for " + what + " from rank " + peer
            + " (it stalled or died); raise the collective timeout if the step is legitimately this slow");
      }
    }
  }

  private static void writeFully(SocketChannel ch, ByteBuffer buf, long deadline, int rank, int peer, String what)
      throws IOException {
    try (Selector sel = Selector.open()) {
      ch.register(sel, SelectionKey.OP_WRITE);
      writeFully(ch, sel, buf, deadline, rank, peer, what);
    }
  }

  private static void writeFully(SocketChannel ch, Selector sel, ByteBuffer buf, long deadline, int rank, int peer,
      String what) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.write(buf);
      if (n == 0 && !awaitReady(sel, deadline)) {
        throw new BiosException("rank " + rank + ": timed out sending " + what + " to rank " + peer
            + " (it stopped reading: stalled or died)");
      }
    }
  }

  /** Waits (up to the deadline) for the selector's channel to be ready; false once the deadline has passed. */
  private static boolean awaitReady(Selector sel, long deadline) throws IOException {
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      return false;
    }
    sel.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
    sel.selectedKeys().clear();
    return true;
  }

  private static void closeQuietly(SocketChannel ch) {
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException e) {
        // nothing more to release
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

  // ---- the schedule -------------------------------------------------------------------------

  /** One all-reduce: the buffer, its segments, and the chunking of each step. */
  private final class Job {
    final float[] data;
    final int offset;
    final int length;
    final int steps = 2 * (size - 1);
    final long[] prefix; // chunks before step k
    final int firstSequence;

    Job(float[] data, int offset, int length, int firstSequence) {
      this.data = data;
      this.offset = offset;
      this.length = length;
      this.firstSequence = firstSequence;
      prefix = new long[steps + 1];
      for (int k = 0; k < steps; k++) {
        prefix[k + 1] = prefix[k] + chunks(recvSegment(k));
      }
    }

    int segStart(int s) {
      int base = length / size;
      int rem = length % size;
      return offset + s * base + Math.min(s, rem);
    }

    int segLength(int s) {
      return length / size + (s < length % size ? 1 : 0);
    }

    /** At least one (possibly empty) chunk per step keeps the schedule uniform. */
    int chunks(int s) {
      return Math.max(1, (segLength(s) + chunkFloats - 1) / chunkFloats);
    }

    int sendSegment(int k) {
      int s = k < size - 1 ? rank - k : rank + 1 - (k - (size - 1));
      return Math.floorMod(s, size);
    }

    int recvSegment(int k) {
      int s = k < size - 1 ? rank - k - 1 : rank - (k - (size - 1));
      return Math.floorMod(s, size);
    }

    int chunkStart(int s, int j) {
      return segStart(s) + j * chunkFloats;
    }

    int chunkLength(int s, int j) {
      return Math.max(0, Math.min(chunkFloats, segLength(s) - j * chunkFloats));
    }

    long totalChunks() {
      return prefix[steps];
    }
  }

  @Override
  public void allReduce(float[] data, int offset, int length) {
    if (offset < 0 || length < 0 || offset + length > data.length) {
      throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + length) + ") of " + data.length);
    }
    if (size == 1) {
      return;
    }
    Job j = new Job(data, offset, length, sequence);
    sequence += (int) j.totalChunks();
    start(j);
    boolean ok = false;
    try {
      receive(j);
      awaitSender();
      ok = true;
    } finally {
      if (!ok) {
        fail();
      }
    }
  }

  private void start(Job j) {
    lock.lock();
    try {
      requireUsable();
      job = j;
      processed = 0;
      sendDone = false;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void requireUsable() {
    if (closed) {
      throw new IllegalStateException("RingCollective is closed");
    }
    if (sendFailure != null) {
      throw new BiosException("rank " + rank + ": the gradient ring is broken: " + sendFailure.getMessage(), sendFailure);
    }
  }

  /** Caller thread: receives every chunk in schedule order, reduces or copies it, signals the sender. */
  private void receive(Job j) {
    long deadline = System.nanoTime() + timeoutNanos;
    int seq = j.firstSequence;
    FloatBuffer floats = recvFloats;
    try {
      for (int k = 0; k < j.steps; k++) {
        int s = j.recvSegment(k);
        boolean reduce = k < size - 1;
        for (int c = 0; c < j.chunks(s); c++) {
          int len = j.chunkLength(s, c);
          readFrame(seq++, len * 4, deadline);
          int at = j.chunkStart(s, c);
          float[] d = j.data;
          if (reduce) {
            // Bulk-copy out of the socket buffer, then a plain array loop the JIT vectorises.
            floats.get(0, scratch, 0, len);
            for (int i = 0; i < len; i++) {
              d[at + i] += scratch[i];
            }
          } else {
            floats.get(0, d, at, len);
          }
          lock.lock();
          try {
            processed++;
            changed.signalAll();
          } finally {
            lock.unlock();
          }
          deadline = System.nanoTime() + timeoutNanos;
        }
      }
    } catch (IOException e) {
      // A channel closed locally means the sender thread failed first (e.g. it timed out waiting
      // for the predecessor's data) and closed the sockets under this read: its failure is the cause.
      Throwable first;
      lock.lock();
      try {
        first = sendFailure;
      } finally {
        lock.unlock();
      }
      if (e instanceof java.nio.channels.ClosedChannelException && first != null) {
        throw new BiosException(first.getMessage(), first);
      }
      throw new BiosException("rank " + rank + ": receiving gradients from rank " + prevRank + " failed: " + e, e);
    }
  }

  /**
   * Reads one frame's header, checks it against the schedule, then reads its payload into
   * {@code recvBuf} (decrypting and authenticating it when encrypting).
   */
  private void readFrame(int expectedSeq, int expectedBytes, long deadline) throws IOException {
    header.clear();
    readFully(fromPrev, readSelector, header, deadline, rank, prevRank, "gradient chunk " + expectedSeq);
    header.flip();
    int magic = header.getInt();
    int seq = header.getInt();
    int bytes = header.getInt();
    int wireBytes = expectedBytes + (recvSeal == null ? 0 : FrameSeal.TAG);
    if (magic == ABORT_MAGIC && recvSeal == null && bytes >= 0 && bytes <= MAX_ABORT_BYTES) {
      ByteBuffer text = ByteBuffer.allocate(bytes);
      readFully(fromPrev, readSelector, text, deadline, rank, prevRank, "the reason rank " + prevRank + " failed");
      throw new BiosException("rank " + rank + ": rank " + prevRank + " failed: "
          + new String(text.array(), StandardCharsets.UTF_8));
    }
    if (magic != FRAME_MAGIC || seq != expectedSeq || bytes != wireBytes) {
      throw new IOException("malformed frame from rank " + prevRank + ": magic " + Integer.toHexString(magic)
          + ", sequence " + seq + " (expected " + expectedSeq + "), " + bytes + " bytes (expected "
          + wireBytes + ")");
    }
    if (recvSeal == null) {
      recvBuf.clear().limit(bytes);
      readFully(fromPrev, readSelector, recvBuf, deadline, rank, prevRank, "gradient chunk " + expectedSeq);
    } else {
      ByteBuffer sealed = recvSeal.wire.clear().limit(bytes);
      readFully(fromPrev, readSelector, sealed, deadline, rank, prevRank, "gradient chunk " + expectedSeq);
      sealed.flip();
      header.flip();
      recvBuf.clear();
      recvSeal.open(seq, header, sealed, recvBuf, prevRank);
    }
  }

  /** Writes one frame: header, then the payload (sealed when encrypting). */
  private void writeFrame(int seq, ByteBuffer payload, long deadline, String what) throws IOException {
    int plain = payload.remaining();
    sendHeader.clear();
    sendHeader.putInt(FRAME_MAGIC).putInt(seq).putInt(plain + (sendSeal == null ? 0 : FrameSeal.TAG)).flip();
    if (sendSeal == null) {
      writeFully(toNext, writeSelector, sendHeader, deadline, rank, nextRank, what);
      writeFully(toNext, writeSelector, payload, deadline, rank, nextRank, what);
    } else {
      ByteBuffer sealed = sendSeal.seal(seq, sendHeader, payload);
      sendHeader.rewind();
      writeFully(toNext, writeSelector, sendHeader, deadline, rank, nextRank, what);
      writeFully(toNext, writeSelector, sealed, deadline, rank, nextRank, what);
    }
  }

  private void awaitSender() {
    lock.lock();
    try {
      long left = timeoutNanos;
      while (!sendDone && sendFailure == null) {
        if (left <= 0) {
          throw new BiosException("rank " + rank + ": rank " + nextRank + " has not taken all gradients in "
              + Duration.ofNanos(timeoutNanos) + " (it stalled or died)");
        }
        left = changed.awaitNanos(left);
      }
      requireUsable();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BiosException("rank " + rank + ": interrupted during the all-reduce", e);
    } finally {
      lock.unlock();
    }
  }

  /** Sender thread: streams each chunk to the successor once it is ready. */
  private void sendLoop() {
    FloatBuffer floats = sendFloats;
    while (true) {
      Job j;
      lock.lock();
      try {
        while (!closed && (job == null || sendDone)) {
          changed.await();
        }
        if (closed) {
          return;
        }
        j = job;
      } catch (InterruptedException e) {
        return;
      } finally {
        lock.unlock();
      }
      try {
        int seq = j.firstSequence;
        for (int k = 0; k < j.steps; k++) {
          int s = j.sendSegment(k);
          for (int c = 0; c < j.chunks(s); c++) {
            if (k > 0) {
              awaitProcessed(j.prefix[k - 1] + c + 1);
            }
            int len = j.chunkLength(s, c);
            floats.clear();
            floats.put(j.data, j.chunkStart(s, c), len);
            sendBuf.clear().limit(len * 4);
            writeFrame(seq++, sendBuf, System.nanoTime() + timeoutNanos, "gradients");
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
        closeQuietly(toNext);
        return;
      }
    }
  }

  private void awaitProcessed(long count) throws InterruptedException {
    lock.lock();
    try {
      long left = timeoutNanos;
      while (processed < count && !closed && sendFailure == null) {
        if (left <= 0) {
          throw new BiosException("rank " + rank + ": timed out waiting for gradients from rank " + prevRank);
        }
        left = changed.awaitNanos(left);
      }
      if (closed || sendFailure != null) {
        throw new InterruptedException("the ring was closed or broke");
      }
    } finally {
      lock.unlock();
    }
  }

  /** A failed all-reduce leaves the ring unusable: peers see the sockets close and fail too. */
  private void fail() {
    closeQuietly(toNext);
    closeQuietly(fromPrev);
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

  /** Most statistics one call may carry (they travel in one small frame). */
  private static final int MAX_STATS = 64;

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
    double[][] all = new double[size][];
    all[rank] = stats.clone();
    try {
      for (int k = 0; k < size - 1; k++) {
        int sendFrom = Math.floorMod(rank - k, size);
        int recvFrom = Math.floorMod(rank - k - 1, size);
        ByteBuffer out = ByteBuffer.allocate(8 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : all[sendFrom]) {
          out.putDouble(v);
        }
        out.flip();
        exchange(out, sequence++);
        all[recvFrom] = new double[n];
        for (int i = 0; i < n; i++) {
          all[recvFrom][i] = recvBuf.getDouble(8 * i);
        }
      }
    } catch (RuntimeException e) {
      fail();
      throw e;
    }
    for (int i = 0; i < n; i++) {
      double sum = 0;
      for (int r = 0; r < size; r++) {
        sum += all[r][i];
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
    lock.lock();
    try {
      requireUsable();
    } finally {
      lock.unlock();
    }
    int bytes = payload.remaining();
    try {
      ByteBuffer direct = ByteBuffer.allocateDirect(bytes);
      direct.put(payload).flip();
      writeFrame(seq, direct, deadline, "statistics");
      readFrame(seq, bytes, deadline);
    } catch (IOException e) {
      throw new BiosException("rank " + rank + ": exchanging statistics with rank " + prevRank + " failed: " + e, e);
    }
  }

  /**
   * Tells the successor that this worker is failing and why, so that its error names the cause
   * rather than a closed connection; call it before {@link #close()} when training fails. Best
   * effort: sent only while no all-reduce is in flight on this worker (e.g. a failure building the
   * next batch) and only without encryption (the notice is not sealed, and a reason may quote
   * data); waits at most a second. Does nothing on a broken or closed ring.
   */
  public void abort(String reason) {
    if (size == 1 || sendSeal != null) {
      return;
    }
    lock.lock();
    try {
      if (closed || sendFailure != null || (job != null && !sendDone)) {
        return;
      }
      // The sender is idle and stays so: only this thread starts jobs, and it is here.
    } finally {
      lock.unlock();
    }
    byte[] text = String.valueOf(reason).getBytes(StandardCharsets.UTF_8);
    int n = Math.min(text.length, MAX_ABORT_BYTES);
    ByteBuffer frame = ByteBuffer.allocateDirect(HEADER + n).order(ByteOrder.BIG_ENDIAN);
    frame.putInt(ABORT_MAGIC).putInt(sequence).putInt(n).put(text, 0, n).flip();
    try {
      writeFully(toNext, writeSelector, frame, System.nanoTime() + TimeUnit.SECONDS.toNanos(1), rank, nextRank,
          "the reason this worker failed");
    } catch (IOException | RuntimeException e) {
      // best effort: the successor still sees the connection close
    }
  }

  /** Closes both connections and stops the sender thread. Idempotent. */
  @Override
  public void close() {
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
    closeQuietly(toNext);
    closeQuietly(fromPrev);
    if (sender != null) {
      sender.interrupt();
      if (Threads.joinUninterruptibly(sender, false)) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      if (readSelector != null) {
        readSelector.close();
        writeSelector.close();
      }
    } catch (IOException e) {
      // selectors hold no resource past close
    }
  }
}
