package ai.bios.tf.collective;

import ai.bios.tf.BiosException;
import ai.bios.tf.concurrent.Threads;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import ai.bios.tf.concurrent.Cancellation;
import java.util.concurrent.locks.LockSupport;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Joins one worker to its two neighbours in the ring: connects to the successor and accepts the
 * predecessor, each proving the job secret with an HMAC-SHA256 challenge-response (fresh nonces on
 * both sides; the secret never crosses the wire). With encryption, each connection gets its own
 * AES key, an HMAC of both nonces.
 *
 * <p>Wire: the connecting side sends a hello (magic "BIOR", version, its rank, the ring size, its
 * nonce); the accepting side answers with its nonce and its proof; the connecting side checks it and
 * sends its own proof; the accepting side checks that and sends one acceptance byte. A peer that
 * fails any check is dropped (by the acceptor) or refused (by the connector).
 *
 * <p>Threads and ownership: {@link #join} starts one acceptor thread ({@code bios-ring-accept-<rank>})
 * that accepts and authenticates the predecessor while the calling thread connects to the successor
 * (every worker does both, so doing them in turn would deadlock the ring). The listener's server
 * socket stays the caller's; the acceptor only accepts on it. An accepted connection belongs to the
 * acceptor until it publishes the authenticated one, and from then to {@code join}, which hands
 * both connections to its caller or closes them. The acceptor drops every connection that fails
 * authentication.
 *
 * <p>Errors cross threads as data: the acceptor's listener failure is left in a volatile field that
 * {@code join} reads after the thread has ended, and rethrows; a predecessor that never proves
 * itself is reported by {@code join} when its deadline passes. Every wait (accept, connect, each
 * handshake read) wakes at least once a second.
 *
 * <p>Close: on every failure {@code join} interrupts the acceptor, waits for it to end (it wakes
 * within a second, and any channel operation after the interrupt fails at once), then closes what
 * it published, so no thread or socket outlives a failed join.
 */
final class RingHandshake {
  private static final int HELLO_MAGIC = 0x42494f52; // "BIOR"
  private static final short VERSION = 1;
  private static final int NONCE = 32;
  private static final int MAC = 32;
  private static final byte ACCEPTED = 0x5A;
  private static final long MAX_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);

  /** Socket buffers large enough that a chunk rarely waits for buffer space. */
  static final int SOCKET_BUFFER = 4 << 20;

  private RingHandshake() {}

  /** The two authenticated connections of one worker. */
  record Links(FrameChannel toNext, FrameChannel fromPrev) {}

  /**
   * Connects {@code rank} to its successor and accepts its predecessor on {@code server}, within
   * {@code options.timeout()}. With {@code options.encrypt()}, both channels seal payloads of at
   * most {@code maxPayload} bytes.
   */
  static Links join(ServerSocketChannel server, int rank, List<InetSocketAddress> peers, RingOptions options,
      int maxPayload, Cancellation cancellation) {
    int size = peers.size();
    int prev = (rank - 1 + size) % size;
    int next = (rank + 1) % size;
    Duration timeout = options.timeout();
    long deadline = System.nanoTime() + timeout.toNanos();
    byte[] secret = options.secret();
    Acceptor acceptor = new Acceptor(server, rank, prev, size, secret, deadline, options.authTimeout().toNanos(),
        cancellation);
    Thread t = new Thread(acceptor, "bios-ring-accept-" + rank);
    t.setDaemon(true);
    t.start();
    FrameChannel toNext = null;
    try {
      byte[][] sendKey = new byte[1][];
      toNext = connectTo(peers.get(next), rank, next, size, secret, deadline, sendKey, cancellation);
      while (t.isAlive() && System.nanoTime() < deadline) {
        TimeUnit.NANOSECONDS.timedJoin(t, Math.min(MAX_WAIT_NANOS, Math.max(1, deadline - System.nanoTime())));
        cancellation.check();
      }
      if (acceptor.failure != null) {
        throw acceptor.failure;
      }
      if (t.isAlive() || acceptor.channel == null) {
        throw new BiosException("rank " + rank + ": rank " + prev + " did not connect to the gradient ring within "
            + timeout + "; it may have failed or be unreachable");
      }
      if (options.encrypt()) {
        toNext.encrypt(sendKey[0], maxPayload);
        acceptor.channel.encrypt(acceptor.key, maxPayload);
      }
      return new Links(toNext, acceptor.channel);
    } catch (Throwable e) {
      t.interrupt();
      if (Threads.joinUninterruptibly(t, true)) {
        Thread.currentThread().interrupt();
      }
      if (acceptor.channel != null) {
        acceptor.channel.close();
      }
      if (toNext != null) {
        toNext.close();
      }
      if (e instanceof BiosException b) {
        throw b;
      }
      throw new BiosException("rank " + rank + " could not join the gradient ring: " + e, e);
    }
  }

  /**
   * Opens a TCP connection to the successor. A refused connection (its accept backlog is full: a
   * flood, or many peers at once) is retried after a short pause until the deadline.
   */
  private static SocketChannel open(InetSocketAddress address, int rank, int next, long deadline,
      Cancellation cancellation) throws IOException {
    while (true) {
      SocketChannel ch = SocketChannel.open();
      try {
        ch.setOption(StandardSocketOptions.SO_SNDBUF, SOCKET_BUFFER);
        ch.configureBlocking(false);
        ch.connect(address);
        try (Selector sel = Selector.open()) {
          ch.register(sel, SelectionKey.OP_CONNECT);
          while (!ch.finishConnect()) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
              throw new BiosException("rank " + rank + ": connecting to rank " + next + " at " + address + " timed out");
            }
            sel.select(Math.min(left, 1000));
            cancellation.check();
          }
        }
        return ch;
      } catch (ConnectException e) {
        ch.close();
        if (System.nanoTime() >= deadline) {
          throw new BiosException("rank " + rank + ": rank " + next + " at " + address + " refused the connection", e);
        }
        cancellation.check();
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
      } catch (IOException | RuntimeException e) {
        ch.close();
        throw e;
      }
    }
  }

  /** Connects to the successor and proves the secret; {@code keyOut[0]} receives the connection's key. */
  private static FrameChannel connectTo(InetSocketAddress address, int rank, int next, int size,
      byte[] secret, long deadline, byte[][] keyOut, Cancellation cancellation) throws IOException {
    FrameChannel ch = new FrameChannel(open(address, rank, next, deadline, cancellation), rank, next, cancellation);
    try {
      byte[] clientNonce = nonce();
      ByteBuffer hello = ByteBuffer.allocate(14 + NONCE).order(ByteOrder.BIG_ENDIAN);
      hello.putInt(HELLO_MAGIC).putShort(VERSION).putInt(rank).putInt(size).put(clientNonce).flip();
      ch.writeFully(hello, deadline, "handshake");
      ByteBuffer reply = ByteBuffer.allocate(NONCE + MAC);
      ch.readFully(reply, deadline, "the handshake reply");
      byte[] serverNonce = new byte[NONCE];
      byte[] serverMac = new byte[MAC];
      reply.flip();
      reply.get(serverNonce).get(serverMac);
      if (!MessageDigest.isEqual(serverMac, mac(secret, "server", clientNonce, serverNonce, rank, next, size))) {
        throw new BiosException("rank " + rank + ": the peer at " + address + " (expected rank " + next
            + ") failed to prove the job secret; refusing to send it gradients");
      }
      ByteBuffer proof = ByteBuffer.wrap(mac(secret, "client", serverNonce, clientNonce, rank, next, size));
      ch.writeFully(proof, deadline, "handshake");
      ByteBuffer ok = ByteBuffer.allocate(1);
      ch.readFully(ok, deadline, "handshake acceptance");
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

  /** Accepts connections until one proves the secret as the expected predecessor, or the deadline. */
  private static final class Acceptor implements Runnable {
    private final ServerSocketChannel server;
    private final int rank;
    private final int prev;
    private final int size;
    private final byte[] secret;
    private final long deadline;
    private final long authNanos;
    private final Cancellation cancellation;
    volatile FrameChannel channel; // published once authenticated; join() owns it from then
    volatile byte[] key;
    volatile BiosException failure;

    Acceptor(ServerSocketChannel server, int rank, int prev, int size, byte[] secret, long deadline,
        long authNanos, Cancellation cancellation) {
      this.cancellation = cancellation;
      this.server = server;
      this.rank = rank;
      this.prev = prev;
      this.size = size;
      this.secret = secret;
      this.deadline = deadline;
      this.authNanos = authNanos;
    }

    @Override
    public void run() {
      try (Selector sel = Selector.open()) {
        server.configureBlocking(false);
        server.register(sel, SelectionKey.OP_ACCEPT);
        while (!Thread.currentThread().isInterrupted()) {
          long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
          if (left <= 0) {
            return; // join() reports the missing predecessor
          }
          sel.select(Math.min(left, 1000));
          sel.selectedKeys().clear();
          SocketChannel accepted = server.accept();
          if (accepted == null) {
            continue;
          }
          FrameChannel ch = null;
          try {
            ch = new FrameChannel(accepted, rank, prev, cancellation);
            authenticate(ch);
            channel = ch;
            return;
          } catch (IOException | RuntimeException e) {
            // A peer without the secret, or garbage: drop it and keep waiting for the real one.
            if (ch != null) {
              ch.close();
            }
          }
        }
      } catch (IOException e) {
        if (!Thread.currentThread().isInterrupted()) {
          failure = new BiosException("rank " + rank + ": the gradient ring listener failed: " + e, e);
        }
      }
    }

    private void authenticate(FrameChannel ch) throws IOException {
      // Authentication gets a short deadline of its own: a silent client cannot hold the listener.
      long authDeadline = Math.min(deadline, System.nanoTime() + authNanos);
      ByteBuffer hello = ByteBuffer.allocate(14 + NONCE).order(ByteOrder.BIG_ENDIAN);
      ch.readFully(hello, authDeadline, "the handshake");
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
      ch.writeFully(reply, authDeadline, "handshake");
      ByteBuffer proof = ByteBuffer.allocate(MAC);
      ch.readFully(proof, authDeadline, "the handshake proof");
      if (!MessageDigest.isEqual(proof.array(), mac(secret, "client", serverNonce, clientNonce, prev, rank, size))) {
        throw new IOException("peer failed to prove the job secret");
      }
      ch.writeFully(ByteBuffer.wrap(new byte[] {ACCEPTED}), authDeadline, "handshake");
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
      mac.update(("bios-ring-" + role).getBytes(StandardCharsets.US_ASCII));
      mac.update(first);
      mac.update(second);
      mac.update(ByteBuffer.allocate(12).putInt(from).putInt(to).putInt(size).array());
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }
}
