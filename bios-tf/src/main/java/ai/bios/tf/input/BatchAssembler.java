package ai.bios.tf.input;

import ai.bios.tf.BadInputException;
import ai.bios.tf.BiosException;
import ai.bios.tf.InvalidSettingException;
import ai.bios.tf.concurrent.InputPool;
import ai.bios.tf.model.Loss;
import ai.bios.tf.model.ModelSpec;
import java.util.ArrayDeque;
import java.util.Arrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.FloatDataBuffer;
import org.tensorflow.types.TFloat32;

/**
 * Turns records into batches of TF tensors with exactly one copy: each record's values are written
 * straight into the batch's native memory. Full-size batches are pooled: closing one hands its
 * tensors back for the next batch, so steady-state training allocates no native memory.
 *
 * <p>Every value is checked on the way in ({@link RecordChecks}); a bad record fails with a
 * {@link BadInputException} naming the record index, what was expected, what came, and the fix.
 *
 * <p>With an {@link InputPool} of several threads and a {@link ParallelRecordSource}, the calling
 * thread fetches the batch's records in order, then the pool's threads transform them, each into
 * its own row through its own {@link Writer}: the batch is the same as a serial read, bit for bit.
 *
 * <p>Threading: {@link #assemble} runs on one thread at a time (the feeder, or the loop); {@link
 * Batch#close()} may come from any thread; {@link #close()} frees the pool.
 */
public final class BatchAssembler implements AutoCloseable {
  private final ModelSpec spec;
  private final int batchSize;
  private final long[] featureDims;
  private final int featureSize;
  private final int outputs;
  private final RecordChecks checks;
  private final boolean weighted;
  private final ArrayDeque<Batch> free = new ArrayDeque<>();
  private Writer[] writers; // one per input thread; [0] is the calling thread's
  private boolean closed;

  /** @param batchSize the largest batch this assembler builds (this worker's share of a step) */
  public BatchAssembler(ModelSpec spec, int batchSize) {
    this(spec, batchSize, false);
  }

  /**
   * @param weighted whether batches carry each record's sample weight ({@link Batch#weights()}; a
   *     record that writes none weighs 1)
   */
  public BatchAssembler(ModelSpec spec, int batchSize, boolean weighted) {
    this.spec = spec;
    this.weighted = weighted;
    this.batchSize = InvalidSettingException.atLeast("batchSize", batchSize, 1);
    this.featureSize = spec.featureSize();
    this.outputs = spec.outputs();
    this.checks = RecordChecks.forRecords(spec);
    this.featureDims = new long[spec.inputShape().size() + 1];
    for (int i = 0; i < spec.inputShape().size(); i++) {
      featureDims[i + 1] = spec.inputShape().get(i);
    }
    this.writers = new Writer[] {new Writer()};
  }

  public int batchSize() {
    return batchSize;
  }

  /** Native bytes of one full batch (for sizing the prefetch queue's memory budget). */
  public long batchBytes() {
    return 4L * batchSize * ((long) featureSize + outputs + (weighted ? 1 : 0));
  }

  /**
   * Reads records {@code indices[from, to)} of {@code source} into a batch for {@code (epoch,
   * step)}, on the calling thread. An empty range gives {@link Batch#empty}.
   */
  public Batch assemble(RecordSource source, int[] indices, int from, int to, int epoch, long step) {
    try {
      return assemble(source, indices, from, to, epoch, step, null);
    } catch (InterruptedException e) {
      throw new AssertionError("a serial read does not wait", e);
    }
  }

  /**
   * Reads records {@code indices[from, to)} of {@code source} into a batch for {@code (epoch,
   * step)}: with {@code threads} (of more than one thread) and a {@link ParallelRecordSource}, fetched
   * here in order and transformed on the pool's threads; otherwise read here. A record whose read
   * or transform throws fails the batch with the error of its lowest failing row: a {@link
   * BadInputException} as it is, anything else wrapped in a {@link BiosException} naming the record.
   *
   * @throws InterruptedException if this thread was interrupted while the pool's threads worked
   */
  public Batch assemble(RecordSource source, int[] indices, int from, int to, int epoch, long step,
      InputPool threads) throws InterruptedException {
    int n = to - from;
    if (n < 0 || n > batchSize) {
      throw new IllegalArgumentException("batch of " + n + " records, limit " + batchSize);
    }
    if (n == 0) {
      return Batch.empty(epoch, step);
    }
    Batch batch = acquire(n);
    boolean release = true;
    try {
      FloatDataBuffer x = batch.features().asRawTensor().data().asFloats();
      FloatDataBuffer y = batch.labels().asRawTensor().data().asFloats();
      FloatDataBuffer w = weighted ? batch.weights().asRawTensor().data().asFloats() : null;
      if (threads != null && threads.threads() > 1 && source instanceof ParallelRecordSource<?> parallel) {
        try {
          transformAll(parallel, indices, from, n, epoch, threads, x, y, w);
        } catch (InterruptedException | RuntimeException | Error e) {
          release = !InputPool.stuck(e); // a transform may still write into it: leave it to the GC
          throw e;
        }
      } else {
        Writer writer = writers[0];
        boolean wrap = source instanceof ParallelRecordSource;
        for (int row = 0; row < n; row++) {
          int index = indices[from + row];
          writer.begin(x, y, w, row, index);
          try {
            source.read(index, epoch, writer);
          } catch (RuntimeException e) {
            throw wrap ? failed(index, "transform", e) : e;
          }
          writer.end();
        }
      }
      batch.position(n, epoch, step);
      release = false;
      return batch;
    } finally {
      if (release) {
        batch.close();
      }
    }
  }

  /** Fetches rows {@code 0 .. n-1} here, in order, then transforms them on the pool's threads. */
  private <R> void transformAll(ParallelRecordSource<R> source, int[] indices, int from, int n, int epoch,
      InputPool threads, FloatDataBuffer x, FloatDataBuffer y, FloatDataBuffer w) throws InterruptedException {
    Object[] raw = new Object[n]; // the batch's raw inputs: each dropped once transformed
    for (int row = 0; row < n; row++) {
      int index = indices[from + row];
      try {
        raw[row] = source.fetch(index);
      } catch (RuntimeException e) {
        throw failed(index, "fetch", e);
      }
    }
    Writer[] rowWriters = writersFor(threads.threads());
    try {
      threads.run(n, (participant, row) -> {
        Writer writer = rowWriters[participant];
        int index = indices[from + row];
        writer.begin(x, y, w, row, index);
        @SuppressWarnings("unchecked")
        R input = (R) raw[row];
        raw[row] = null;
        source.transform(input, index, epoch, writer);
        writer.end();
      });
    } catch (InputPool.ItemFailed f) {
      Throwable cause = f.getCause();
      if (cause instanceof Error e) {
        throw e;
      }
      throw failed(indices[from + f.item()], "transform", cause);
    }
  }

  private Writer[] writersFor(int threads) {
    if (writers.length < threads) {
      Writer[] more = Arrays.copyOf(writers, threads);
      for (int i = writers.length; i < threads; i++) {
        more[i] = new Writer();
      }
      writers = more;
    }
    return writers;
  }

  /** A record source's failure on record {@code index}: bad input as it is, anything else naming the record. */
  private static RuntimeException failed(int index, String what, Throwable e) {
    if (e instanceof BadInputException b) {
      return b;
    }
    return new BiosException("record " + index + ": the record source's " + what + " failed: " + e, e);
  }

  private synchronized Batch acquire(int n) {
    if (closed) {
      throw new IllegalStateException("BatchAssembler is closed");
    }
    if (n == batchSize && !free.isEmpty()) {
      Batch b = free.pop();
      b.reopen();
      return b;
    }
    long[] dims = featureDims.clone();
    dims[0] = n;
    TFloat32 x = TFloat32.tensorOf(Shape.of(dims));
    TFloat32 y = null;
    TFloat32 w = null;
    try {
      y = TFloat32.tensorOf(Shape.of(n, outputs));
      w = weighted ? TFloat32.tensorOf(Shape.of(n)) : null;
    } catch (RuntimeException e) {
      x.close();
      if (y != null) {
        y.close();
      }
      throw e;
    }
    return new Batch(x, y, w, n, n == batchSize ? this : null);
  }

  /** Takes back a closed full-size batch; false when the pool is closed (the batch frees itself). */
  synchronized boolean recycle(Batch batch) {
    if (closed) {
      return false;
    }
    free.push(batch);
    return true;
  }

  /** Frees every pooled batch. Batches still out free themselves when closed. */
  @Override
  public synchronized void close() {
    closed = true;
    while (!free.isEmpty()) {
      free.pop().release();
    }
  }

  /** Validating writer for one row; reused. */
  private final class Writer implements RecordWriter {
    private final float[] oneHot = new float[outputs];
    private final float[] scratch = new float[featureSize];
    private FloatDataBuffer x;
    private FloatDataBuffer y;
    private FloatDataBuffer w;
    private int row;
    private int index;
    private boolean wroteFeatures;
    private boolean wroteLabel;

    void begin(FloatDataBuffer x, FloatDataBuffer y, FloatDataBuffer w, int row, int index) {
      this.x = x;
      this.y = y;
      this.w = w;
      if (w != null) {
        w.setFloat(1f, row);
      }
      this.row = row;
      this.index = index;
      wroteFeatures = false;
      wroteLabel = false;
    }

    void end() {
      if (!wroteFeatures || !wroteLabel) {
        throw new BadInputException("record " + index + ": the record source wrote "
            + (wroteFeatures ? "no label" : "no features")
            + "; RecordSource.read must write both features and a label for every record");
      }
    }

    @Override
    public void features(float[] values, int offset, int length) {
      checkFeatureCount(values == null ? -1 : length);
      for (int i = 0; i < length; i++) {
        checks.checkFeature(values[offset + i], i, index);
      }
      x.offset((long) row * featureSize).write(values, offset, featureSize);
      wroteFeatures = true;
    }

    @Override
    public void features(double[] values) {
      checkFeatureCount(values == null ? -1 : values.length);
      for (int i = 0; i < values.length; i++) {
        checks.checkFeature(values[i], i, index);
        scratch[i] = (float) values[i];
      }
      x.offset((long) row * featureSize).write(scratch, 0, featureSize);
      wroteFeatures = true;
    }

    private void checkFeatureCount(int length) {
      if (length < 0) {
        throw checks.nullFeatures(index);
      }
      checks.checkFeatureCount(length, index);
    }

    @Override
    public void label(double value) {
      if (spec.loss() == Loss.SOFTMAX_CROSS_ENTROPY) {
        checks.checkLabel(value, 0, index);
        Arrays.fill(oneHot, 0f);
        oneHot[(int) value] = 1f;
        y.offset((long) row * outputs).write(oneHot, 0, outputs);
        wroteLabel = true;
      } else {
        if (outputs != 1) {
          throw new BadInputException("record " + index + ": got one label value, expected " + outputs
              + " (one per model output); write labels(float[])");
        }
        oneHot[0] = checks.checkLabel((float) value, 0, index);
        y.offset(row).write(oneHot, 0, 1);
        wroteLabel = true;
      }
    }

    @Override
    public void weight(double value) {
      float checked = checks.checkWeight("weight", value, index);
      if (w != null) {
        w.setFloat(checked, row);
      }
    }

    @Override
    public void labels(float[] values, int offset, int length) {
      if (spec.loss() == Loss.SOFTMAX_CROSS_ENTROPY) {
        if (values == null || length != 1) {
          throw new BadInputException("record " + index + ": softmax cross-entropy takes one class index, got "
              + (values == null ? "null" : length + " values") + "; write label(classIndex)");
        }
        label(values[offset]);
        return;
      }
      if (values == null || length != outputs) {
        throw checks.labelCount(values == null ? "null" : length + " values", index);
      }
      for (int i = 0; i < outputs; i++) {
        checks.checkLabel(values[offset + i], i, index);
      }
      y.offset((long) row * outputs).write(values, offset, outputs);
      wroteLabel = true;
    }
  }
}
