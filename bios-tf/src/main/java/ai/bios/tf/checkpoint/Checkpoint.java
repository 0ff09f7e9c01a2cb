package ai.bios.tf.checkpoint;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/**
 * Everything needed to continue a run bit for bit: the weights, the optimizer state, the next step
 * (which fixes epoch and data position, since the data order is a pure function of seed, epoch and
 * rank), the run's identity (model spec, optimizer, batch size, seed, data-plan shape) and the loss
 * history so far.
 *
 * <p>Binary layout: magic {@code BIOSCKPT}, format version, then the fields, then a CRC-32 of all
 * preceding bytes. A torn or altered file fails {@link #readFrom} instead of loading.
 *
 * @param identity the run's identity; a checkpoint only resumes a run with an equal identity
 * @param nextStep the first step not yet applied
 * @param appliedSteps optimizer steps taken (Adam's bias correction depends on it)
 * @param weights flattened weights
 * @param optimizerState flattened optimizer state
 * @param lossHistory mean loss of each step {@code [0, nextStep)}
 * @param loopState what the training loop records beyond the model (the epochs' history and
 *     early-stopping state), opaque to this class; empty in checkpoints of format 1 and 2
 */
public record Checkpoint(
    RunIdentity identity, long nextStep, long appliedSteps, float[] weights, float[] optimizerState,
    double[] lossHistory, byte[] loopState) {

  private static final long MAGIC = 0x42494f53434b5054L; // "BIOSCKPT"
  // 2 added firstEpochWindow, 3 the loop state; versions 1 and 2 still read
  private static final int VERSION = 3;

  /** A checkpoint without loop state. */
  public Checkpoint(RunIdentity identity, long nextStep, long appliedSteps, float[] weights, float[] optimizerState,
      double[] lossHistory) {
    this(identity, nextStep, appliedSteps, weights, optimizerState, lossHistory, new byte[0]);
  }

  public Checkpoint {
    loopState = loopState == null ? new byte[0] : loopState;
  }

  public void writeTo(OutputStream out) throws IOException {
    CRC32 crc = new CRC32();
    // One reusable chunk: values are copied once into it, checksummed and written, so a large
    // checkpoint costs no large temporary array.
    ByteBuffer chunk = ByteBuffer.allocate(CHUNK).order(ByteOrder.BIG_ENDIAN);
    chunk.putLong(MAGIC).putInt(VERSION);
    putString(chunk, identity.modelSpecJson(), crc, out);
    putString(chunk, identity.optimizer(), crc, out);
    ensure(chunk, 48, crc, out);
    chunk.putInt(identity.batchSize()).putLong(identity.seed()).putInt(identity.shuffle() ? 1 : 0)
        .putInt(identity.workers())
        .putInt(identity.stepsPerEpoch()).putInt(identity.firstEpochWindow()).putLong(nextStep).putLong(appliedSteps);
    putFloats(chunk, weights, crc, out);
    putFloats(chunk, optimizerState, crc, out);
    putDoubles(chunk, lossHistory, crc, out);
    putBytes(chunk, loopState, crc, out);
    drain(chunk, crc, out);
    chunk.putLong(crc.getValue());
    chunk.flip();
    out.write(chunk.array(), 0, chunk.limit());
    out.flush();
  }

  private static final int CHUNK = 1 << 16;

  /** Makes room for {@code bytes} by writing out what the chunk holds. */
  private static void ensure(ByteBuffer chunk, int bytes, CRC32 crc, OutputStream out) throws IOException {
    if (chunk.remaining() < bytes) {
      drain(chunk, crc, out);
    }
  }

  private static void drain(ByteBuffer chunk, CRC32 crc, OutputStream out) throws IOException {
    crc.update(chunk.array(), 0, chunk.position());
    out.write(chunk.array(), 0, chunk.position());
    chunk.clear();
  }

  private static void putString(ByteBuffer chunk, String s, CRC32 crc, OutputStream out) throws IOException {
    putBytes(chunk, s.getBytes(StandardCharsets.UTF_8), crc, out);
  }

  /** The length, then the bytes. */
  private static void putBytes(ByteBuffer chunk, byte[] b, CRC32 crc, OutputStream out) throws IOException {
    ensure(chunk, 4, crc, out);
    chunk.putInt(b.length);
    for (int at = 0; at < b.length; ) {
      ensure(chunk, 1, crc, out);
      int n = Math.min(b.length - at, chunk.remaining());
      chunk.put(b, at, n);
      at += n;
    }
  }

  private static void putFloats(ByteBuffer chunk, float[] values, CRC32 crc, OutputStream out) throws IOException {
    ensure(chunk, 4, crc, out);
    chunk.putInt(values.length);
    for (int at = 0; at < values.length; ) {
      ensure(chunk, 4, crc, out);
      int n = Math.min(values.length - at, chunk.remaining() / 4);
      chunk.asFloatBuffer().put(values, at, n);
      chunk.position(chunk.position() + 4 * n);
      at += n;
    }
  }

  private static void putDoubles(ByteBuffer chunk, double[] values, CRC32 crc, OutputStream out) throws IOException {
    ensure(chunk, 4, crc, out);
    chunk.putInt(values.length);
    for (int at = 0; at < values.length; ) {
      ensure(chunk, 8, crc, out);
      int n = Math.min(values.length - at, chunk.remaining() / 8);
      chunk.asDoubleBuffer().put(values, at, n);
      chunk.position(chunk.position() + 8 * n);
      at += n;
    }
  }

  /** Reads and verifies a checkpoint; {@code source} names it in errors. */
  public static Checkpoint readFrom(InputStream in, String source) throws IOException {
    CRC32 crc = new CRC32();
    DataInputStream data = new DataInputStream(new java.util.zip.CheckedInputStream(in, crc));
    try {
      if (data.readLong() != MAGIC) {
        throw new CorruptCheckpointException(source + " is not a Bios checkpoint (bad magic)");
      }
      int version = data.readInt();
      if (version < 1 || version > VERSION) {
        throw new CorruptCheckpointException(source + " has format version " + version
            + "; this Bios reads versions 1 to " + VERSION);
      }
      RunIdentity id = new RunIdentity(readString(data),
          readString(data), data.readInt(), data.readLong(), data.readInt() != 0, data.readInt(), data.readInt(),
          version == 1 ? 0 : data.readInt());
      long nextStep = data.readLong();
      long applied = data.readLong();
      float[] weights = readFloats(data, source);
      float[] state = readFloats(data, source);
      int n = data.readInt();
      if (n < 0 || n > nextStep) {
        throw new CorruptCheckpointException(source + " has a loss history of " + n + " steps for step " + nextStep);
      }
      byte[] raw = data.readNBytes(8 * n);
      if (raw.length != 8 * n) {
        throw new CorruptCheckpointException(source + " is truncated");
      }
      double[] losses = new double[n];
      ByteBuffer.wrap(raw).order(ByteOrder.BIG_ENDIAN).asDoubleBuffer().get(losses);
      byte[] loop = new byte[0];
      if (version >= 3) {
        int m = data.readInt();
        if (m < 0 || m > Integer.MAX_VALUE - 8) {
          throw new CorruptCheckpointException(source + " claims a loop state of " + m + " bytes");
        }
        loop = data.readNBytes(m);
        if (loop.length != m) {
          throw new CorruptCheckpointException(source + " is truncated");
        }
      }
      long expected = crc.getValue();
      long stored = new DataInputStream(in).readLong();
      if (stored != expected) {
        throw new CorruptCheckpointException(source + " fails its checksum (torn or altered file)");
      }
      return new Checkpoint(id, nextStep, applied, weights, state, losses, loop);
    } catch (java.io.EOFException e) {
      throw new CorruptCheckpointException(source + " is truncated");
    }
  }

  /** Serialised bytes (for stores that write whole objects). */
  public byte[] toBytes() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(64 + 4 * (weights.length + optimizerState.length)
        + loopState.length);
    try {
      writeTo(out);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out.toByteArray();
  }

  /**
   * Throws unless this checkpoint belongs to a run with identity {@code expected}, naming what differs
   * ({@link RunIdentity#requireSameRun}); {@code source} names the checkpoint.
   */
  public void requireCompatible(RunIdentity expected, String source) {
    identity.requireSameRun(expected, "checkpoint " + source);
  }


  private static String readString(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > (16 << 20)) {
      throw new CorruptCheckpointException("string of " + n + " bytes");
    }
    byte[] b = in.readNBytes(n);
    if (b.length != n) {
      throw new java.io.EOFException();
    }
    return new String(b, StandardCharsets.UTF_8);
  }

  private static float[] readFloats(DataInputStream in, String source) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > (Integer.MAX_VALUE - 8) / 4) {
      throw new CorruptCheckpointException(source + " claims " + n + " values");
    }
    byte[] raw = in.readNBytes(4 * n);
    if (raw.length != 4 * n) {
      throw new java.io.EOFException();
    }
    float[] values = new float[n];
    ByteBuffer.wrap(raw).order(ByteOrder.BIG_ENDIAN).asFloatBuffer().get(values);
    return values;
  }

  /** A checkpoint file that is torn, truncated or not a checkpoint. */
  public static final class CorruptCheckpointException extends IOException {
    private static final long serialVersionUID = 1L;

    public CorruptCheckpointException(String message) {
      super(message);
    }
  }
}
