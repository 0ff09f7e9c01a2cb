package ai.bios.tf.collective;

import ai.bios.tf.BiosException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import ai.bios.tf.concurrent.Cancellation;

/**
 * One connection of the ring to a neighbouring rank: exact reads and writes over a non-blocking
 * {@link SocketChannel} under a deadline, and the frames the ring exchanges over it.
 *
 * <p>A frame is a 12-byte big-endian header (magic, sequence number, payload length) and the
 * payload. The header is checked against what the schedule expects before the payload is read into
 * the caller's buffer, so a malformed or hostile frame fails without allocating what it claims.
 * Once {@link #encrypt} is called, payloads are sealed with AES-256-GCM ({@link FrameSeal}). An
 * abort notice (its own magic, a short UTF-8 reason) tells the reader why its peer is failing.
 *
 * <p>Waits: every read or write that cannot progress waits on this channel's selector, at most a
 * second at a time, until its deadline; it fails with a {@link BiosException} naming both ranks and
 * what was awaited.
 *
 * <p>Ownership: the channel owns its socket and selector from construction (a failing constructor
 * closes the socket) and {@link #close()} releases both; close is idempotent and may be called from
 * any thread, and an operation it interrupts fails with a {@link ClosedChannelException}. Reads and
 * writes are for one thread at a time; the ring hands a channel between threads under its lock.
 */
final class FrameChannel implements AutoCloseable {
  static final int FRAME_MAGIC = 0xB105DA7A;
  static final int ABORT_MAGIC = 0xB105AB07; // "this worker is failing", with the reason
  static final int MAX_ABORT_BYTES = 2048;
  static final int HEADER = 12;
  private static final long MAX_WAIT_MILLIS = 1000;
  private static final long NO_SEQUENCE = Long.MIN_VALUE;

  private final SocketChannel socket;
  private final Selector selector;
  private final SelectionKey key;
  private final int rank;
  private final int peer;
  private final Cancellation cancellation;
  private final ByteBuffer header = ByteBuffer.allocateDirect(HEADER).order(ByteOrder.BIG_ENDIAN);
  private FrameSeal seal; // set once, before the ring's threads use the channel; null when not encrypting

  /**
   * Takes ownership of {@code socket}, which connects {@code rank} to {@code peer}; every wait on
   * it checks {@code cancellation} at least once a second.
   */
  FrameChannel(SocketChannel socket, int rank, int peer, Cancellation cancellation) throws IOException {
    this.socket = socket;
    this.rank = rank;
    this.peer = peer;
    this.cancellation = cancellation;
    Selector sel = null;
    try {
      socket.configureBlocking(false);
      socket.socket().setTcpNoDelay(true);
      sel = Selector.open();
      this.key = socket.register(sel, SelectionKey.OP_READ);
      this.selector = sel;
    } catch (IOException | RuntimeException e) {
      closeQuietly(sel);
      socket.close();
      throw e;
    }
  }

  /** From now on every frame's payload is sealed under {@code key}; payloads hold at most {@code maxPayload} bytes. */
  void encrypt(byte[] key, int maxPayload) {
    this.seal = new FrameSeal(key, maxPayload);
  }

  /** Fills {@code buf} from the peer by {@code deadline} ({@link System#nanoTime()}). */
  void readFully(ByteBuffer buf, long deadline, String what) throws IOException {
    read(buf, deadline, what, NO_SEQUENCE);
  }

  /** Sends all of {@code buf} to the peer by {@code deadline}. */
  void writeFully(ByteBuffer buf, long deadline, String what) throws IOException {
    while (buf.hasRemaining()) {
      int n = socket.write(buf);
      if (n == 0 && !awaitReady(SelectionKey.OP_WRITE, deadline)) {
        throw new BiosException("rank " + rank + ": timed out sending " + what + " to rank " + peer
            + " (it stopped reading: stalled or died)");
      }
    }
  }

  // The message names the sequence number only when it fails, so a frame costs no string.
  private void read(ByteBuffer buf, long deadline, String what, long seq) throws IOException {
    while (buf.hasRemaining()) {
      int n = socket.read(buf);
      if (n < 0) {
        throw new BiosException("rank " + rank + ": rank " + peer + " closed the connection while rank " + rank
            + " awaited " + describe(what, seq) + " (the peer task probably failed: its own error names the cause)");
      }
      if (n == 0 && !awaitReady(SelectionKey.OP_READ, deadline)) {
        throw new BiosException("rank " + rank + ": timed out waiting for " + describe(what, seq) + " from rank "
            + peer + " (it stalled or died); raise the collective timeout if the step is legitimately this slow");
      }
    }
  }

  private static String describe(String what, long seq) {
    return seq == NO_SEQUENCE ? what : what + seq;
  }

  /**
   * Waits, at most a second, for the socket to become ready for {@code op}; false once the
   * deadline has passed. Callers loop, so a wait wakes at least once a second.
   */
  private boolean awaitReady(int op, long deadline) throws IOException {
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      return false;
    }
    try {
      if (key.interestOps() != op) {
        key.interestOps(op);
      }
      selector.select(Math.max(1, Math.min(MAX_WAIT_MILLIS, TimeUnit.NANOSECONDS.toMillis(left))));
      selector.selectedKeys().clear();
    } catch (ClosedSelectorException | CancelledKeyException e) {
      throw new ClosedChannelException(); // closed under this wait, by another thread
    }
    cancellation.check();
    return true;
  }

  /**
   * Reads one frame: its header, checked against {@code expectedSeq} and the payload length the
   * schedule expects ({@code into.remaining()}), then the payload into {@code into} (decrypted and
   * authenticated when encrypting). An abort notice fails with the peer's reason.
   */
  void readFrame(int expectedSeq, ByteBuffer into, long deadline) throws IOException {
    header.clear();
    read(header, deadline, "gradient chunk ", expectedSeq);
    header.flip();
    int magic = header.getInt();
    int seq = header.getInt();
    int bytes = header.getInt();
    int wireBytes = into.remaining() + (seal == null ? 0 : FrameSeal.TAG);
    if (magic == ABORT_MAGIC && seal == null && bytes >= 0 && bytes <= MAX_ABORT_BYTES) {
      ByteBuffer text = ByteBuffer.allocate(bytes);
      readFully(text, deadline, "the reason rank " + peer + " failed");
      throw new BiosException("rank " + rank + ": rank " + peer + " failed: "
          + new String(text.array(), StandardCharsets.UTF_8));
    }
    if (magic == ABORT_MAGIC && seal != null && seq == expectedSeq && bytes >= FrameSeal.TAG
        && bytes <= Math.min(MAX_ABORT_BYTES + FrameSeal.TAG, seal.wire.capacity())) {
      // Sealed like a data frame, under the sequence number the next data frame would have had.
      ByteBuffer sealed = seal.wire.clear().limit(bytes);
      read(sealed, deadline, "the reason rank " + peer + " failed", NO_SEQUENCE);
      sealed.flip();
      header.flip();
      ByteBuffer text = ByteBuffer.allocate(bytes - FrameSeal.TAG);
      seal.open(seq, header, sealed, text, peer);
      throw new BiosException("rank " + rank + ": rank " + peer + " failed: "
          + new String(text.array(), 0, text.position(), StandardCharsets.UTF_8));
    }
    if (magic != FRAME_MAGIC || seq != expectedSeq || bytes != wireBytes) {
      throw new IOException("malformed frame from rank " + peer + ": magic " + Integer.toHexString(magic)
          + ", sequence " + seq + " (expected " + expectedSeq + "), " + bytes + " bytes (expected "
          + wireBytes + ")");
    }
    if (seal == null) {
      read(into, deadline, "gradient chunk ", expectedSeq);
    } else {
      ByteBuffer sealed = seal.wire.clear().limit(bytes);
      read(sealed, deadline, "gradient chunk ", expectedSeq);
      sealed.flip();
      header.flip();
      seal.open(seq, header, sealed, into, peer);
    }
  }

  /** Writes one frame: header, then {@code payload} (sealed when encrypting). */
  void writeFrame(int seq, ByteBuffer payload, long deadline, String what) throws IOException {
    int plain = payload.remaining();
    header.clear();
    header.putInt(FRAME_MAGIC).putInt(seq).putInt(plain + (seal == null ? 0 : FrameSeal.TAG)).flip();
    if (seal == null) {
      writeFully(header, deadline, what);
      writeFully(payload, deadline, what);
    } else {
      ByteBuffer sealed = seal.seal(seq, header, payload);
      header.rewind();
      writeFully(header, deadline, what);
      writeFully(sealed, deadline, what);
    }
  }

  /**
   * Tells the peer this worker is failing and why: best effort, at most a second. {@code seq} is
   * the sequence number the next data frame would have had; with encryption the notice is sealed
   * under it like a data frame (a reason may quote data), and no frame follows it.
   */
  void sendAbort(int seq, String reason) {
    byte[] text = String.valueOf(reason).getBytes(StandardCharsets.UTF_8);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
    try {
      if (seal == null) {
        int n = Math.min(text.length, MAX_ABORT_BYTES);
        ByteBuffer frame = ByteBuffer.allocate(HEADER + n).order(ByteOrder.BIG_ENDIAN);
        frame.putInt(ABORT_MAGIC).putInt(seq).putInt(n).put(text, 0, n).flip();
        writeFully(frame, deadline, "the reason this worker failed");
      } else {
        int n = Math.min(text.length, Math.min(MAX_ABORT_BYTES, seal.wire.capacity() - FrameSeal.TAG));
        header.clear();
        header.putInt(ABORT_MAGIC).putInt(seq).putInt(n + FrameSeal.TAG).flip();
        ByteBuffer sealed = seal.seal(seq, header, ByteBuffer.wrap(text, 0, n));
        header.rewind();
        writeFully(header, deadline, "the reason this worker failed");
        writeFully(sealed, deadline, "the reason this worker failed");
      }
    } catch (IOException | RuntimeException e) {
      // best effort: the peer still sees the connection close
    }
  }

  /** Closes the socket and the selector. Idempotent; any thread. */
  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException e) {
      // nothing more to release
    }
    closeQuietly(selector);
  }

  private static void closeQuietly(Selector sel) {
    if (sel != null) {
      try {
        sel.close();
      } catch (IOException e) {
        // a selector holds nothing past close
      }
    }
  }
}
