package ai.bios.tf.input;

import ai.bios.tf.model.Feed;
import java.util.Objects;
import org.tensorflow.types.TFloat32;

/**
 * One batch of training records as TensorFlow tensors, ready to feed. The holder owns it and must
 * close it; closing returns full-size batches to their {@link BatchAssembler}'s pool for reuse.
 * A batch of size 0 (a worker that ran out of data this step) has no tensors.
 */
public final class Batch implements Feed, AutoCloseable {
  private final TFloat32 features;
  private final TFloat32 labels;
  private final TFloat32 weights; // null when records carry no weights
  private final int capacity;
  private final BatchAssembler pool;
  private int size;
  private int epoch;
  private long step;
  private boolean closed;

  Batch(TFloat32 features, TFloat32 labels, TFloat32 weights, int capacity, BatchAssembler pool) {
    this.features = features;
    this.labels = labels;
    this.weights = weights;
    this.capacity = capacity;
    this.pool = pool;
  }

  /** The empty batch for {@code step}: contributes no samples, only takes part in aggregation. */
  public static Batch empty(int epoch, long step) {
    Batch b = new Batch(null, null, null, 0, null);
    b.position(0, epoch, step);
    return b;
  }

  void position(int size, int epoch, long step) {
    this.size = size;
    this.epoch = epoch;
    this.step = step;
  }

  /** Records in this batch. */
  public int size() {
    return size;
  }

  public int capacity() {
    return capacity;
  }

  /** The epoch (0-based) this batch belongs to. */
  public int epoch() {
    return epoch;
  }

  /** The global step (0-based) this batch is for. */
  public long step() {
    return step;
  }

  /** Features, shape {@code [size, ...inputShape]}. Owned by this batch; do not close. */
  public TFloat32 features() {
    requireOpen();
    return Objects.requireNonNull(features, "an empty batch has no tensors");
  }

  /** Labels, shape {@code [size, outputs]} (one-hot for softmax). Owned by this batch. */
  public TFloat32 labels() {
    requireOpen();
    return Objects.requireNonNull(labels, "an empty batch has no tensors");
  }

  /**
   * Sample weights, shape {@code [size]}, when the assembler is weighted; else null. Owned by this
   * batch.
   */
  @Override
  public TFloat32 weights() {
    requireOpen();
    return weights;
  }

  /** Bytes of native memory this batch holds. */
  public long bytes() {
    return features == null ? 0 : features.numBytes() + labels.numBytes() + (weights == null ? 0 : weights.numBytes());
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("batch for step " + step + " is closed");
    }
  }

  boolean isClosed() {
    return closed;
  }

  void reopen() {
    closed = false;
  }

  /** Frees the tensors for good (the pool calls this when it is closed). */
  void release() {
    if (features != null) {
      features.close();
      labels.close();
      if (weights != null) {
        weights.close();
      }
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (pool == null || !pool.recycle(this)) {
      release();
    }
  }
}
