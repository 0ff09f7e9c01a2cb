package ai.bios.tf.exec;

import ai.bios.tf.InvalidSettingException;
import java.io.Serializable;
import java.time.Duration;
import java.util.Objects;

/**
 * How to train: schedule, queue depth, batch size, epochs, seed, checkpoint cadence, timeouts.
 * Immutable and validated when built: a bad value fails here, naming the setting.
 */
public final class TrainingConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Default global batch size (records per step across all workers). */
  public static final int DEFAULT_BATCH_SIZE = 256;
  /** Default memory budget of queued batches with {@code prefetchDepth=auto}: 256 MiB. */
  public static final long DEFAULT_PREFETCH_MEMORY_BYTES = 256L << 20;
  /** Default window a streamed first epoch draws its records from. */
  public static final int DEFAULT_SHUFFLE_WINDOW = 8192;
  /** Default longest wait of the loop for a batch (and of any hand-off between the run's threads). */
  public static final Duration DEFAULT_INPUT_TIMEOUT = Duration.ofMinutes(10);

  private final ExecutionMode mode;
  private final PrefetchDepth prefetchDepth;
  private final long prefetchMemoryBytes;
  private final int batchSize;
  private final int epochs;
  private final long maxSteps;
  private final long seed;
  private final boolean shuffle;
  private final int shuffleWindow;
  private final int checkpointInterval;
  private final Duration inputTimeout;
  private final int inputThreads;

  private TrainingConfig(Builder b) {
    this.mode = Objects.requireNonNull(b.mode, "executionMode");
    this.prefetchDepth = Objects.requireNonNull(b.prefetchDepth, "prefetchDepth");
    if (b.prefetchMemoryBytes < 1) {
      throw new InvalidSettingException("prefetchMemoryBytes", b.prefetchMemoryBytes, "must be >= 1");
    }
    this.prefetchMemoryBytes = b.prefetchMemoryBytes;
    this.batchSize = InvalidSettingException.atLeast("batchSize", b.batchSize, 1);
    this.epochs = InvalidSettingException.atLeast("epochs", b.epochs, 1);
    if (b.maxSteps < 0) {
      throw new InvalidSettingException("maxSteps", b.maxSteps, "must be >= 0 (0 means all epochs)");
    }
    this.maxSteps = b.maxSteps;
    this.seed = b.seed;
    this.shuffle = b.shuffle;
    this.shuffleWindow = InvalidSettingException.atLeast("shuffleWindow", b.shuffleWindow, 1);
    this.checkpointInterval = InvalidSettingException.atLeast("checkpointInterval", b.checkpointInterval, 0);
    if (b.inputTimeout == null || b.inputTimeout.isNegative() || b.inputTimeout.isZero()) {
      throw new InvalidSettingException("inputTimeout", b.inputTimeout, "must be a positive duration");
    }
    this.inputTimeout = b.inputTimeout;
    this.inputThreads = InvalidSettingException.atLeast("inputThreads", b.inputThreads, 1);
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder()
        .mode(mode).prefetchDepth(prefetchDepth).prefetchMemoryBytes(prefetchMemoryBytes)
        .batchSize(batchSize).epochs(epochs).maxSteps(maxSteps).seed(seed).shuffle(shuffle)
        .shuffleWindow(shuffleWindow).checkpointInterval(checkpointInterval).inputTimeout(inputTimeout)
        .inputThreads(inputThreads);
  }

  public ExecutionMode mode() {
    return mode;
  }

  public PrefetchDepth prefetchDepth() {
    return prefetchDepth;
  }

  /** With {@code prefetchDepth=auto}: the most native memory queued batches may hold. */
  public long prefetchMemoryBytes() {
    return prefetchMemoryBytes;
  }

  /** Global batch size: records per step across all workers. */
  public int batchSize() {
    return batchSize;
  }

  public int epochs() {
    return epochs;
  }

  /** Stop after this many steps (0: run all epochs). */
  public long maxSteps() {
    return maxSteps;
  }

  /** Seed of the data order (the model's initial weights have their own seed in the model spec). */
  public long seed() {
    return seed;
  }

  /**
   * Whether each epoch visits a worker's records in a fresh order drawn from (seed, epoch, rank).
   * Without it every epoch reads the records in their stored order.
   */
  public boolean shuffle() {
    return shuffle;
  }

  /**
   * Records a streamed first epoch draws from at random (with {@link #shuffle()}): the first epoch
   * of a {@link ai.bios.tf.input.RecordStream} cannot be shuffled as a whole while it is still
   * arriving, so it takes each record from a window of the next {@code shuffleWindow} arrivals.
   * Later epochs shuffle the whole cached shard. Costs 4 bytes per record of window.
   */
  public int shuffleWindow() {
    return shuffleWindow;
  }

  /** Write a checkpoint every this many steps (0: never). */
  public int checkpointInterval() {
    return checkpointInterval;
  }

  /** How long the training loop waits for the next batch before failing. */
  public Duration inputTimeout() {
    return inputTimeout;
  }

  /**
   * Threads that run a {@link ai.bios.tf.input.ParallelRecordSource}'s per-record transforms in
   * EFFICIENT mode (the feeder, or the loop for validation records, is one of them; the others are
   * {@code <threadPrefix>-input-N}); SIMPLE mode runs them on the loop's thread. The trained weights
   * do not depend on it.
   */
  public int inputThreads() {
    return inputThreads;
  }

  /** This worker's share of the global batch: the first {@code batchSize % workers} ranks take one more. */
  public int localBatchSize(int rank, int workers) {
    return batchSize / workers + (rank < batchSize % workers ? 1 : 0);
  }

  /**
   * Steps per epoch of a run whose workers hold shards of {@code shardSizes} records (in rank
   * order): the most any worker needs at its {@link #localBatchSize}, which is what the workers
   * agree on (up front, or by vote while a streamed first epoch runs).
   */
  public int stepsPerEpoch(long[] shardSizes) {
    long most = 0;
    for (int rank = 0; rank < shardSizes.length; rank++) {
      int local = localBatchSize(rank, shardSizes.length);
      most = Math.max(most, local < 1 ? 0 : (shardSizes[rank] + local - 1) / local);
    }
    return (int) Math.min(Integer.MAX_VALUE, most);
  }

  /** The run's step count for {@code stepsPerEpoch}: {@link #epochs()} of them, capped at {@link #maxSteps()}. */
  public long totalSteps(int stepsPerEpoch) {
    long total = (long) stepsPerEpoch * epochs;
    return maxSteps > 0 ? Math.min(total, maxSteps) : total;
  }

  @Override
  public String toString() {
    return "TrainingConfig{mode=" + mode + ", prefetchDepth=" + prefetchDepth + ", batchSize=" + batchSize
        + ", epochs=" + epochs + ", maxSteps=" + maxSteps + ", seed=" + seed + ", shuffle=" + shuffle
        + ", shuffleWindow=" + shuffleWindow + ", checkpointInterval=" + checkpointInterval + ", inputTimeout=" + inputTimeout
        + ", inputThreads=" + inputThreads + "}";
  }

  /** Builder with the defaults: efficient mode, auto prefetch (256 MiB), batch 256, 1 epoch. */
  public static final class Builder {
    private ExecutionMode mode = ExecutionMode.EFFICIENT;
    private PrefetchDepth prefetchDepth = PrefetchDepth.auto();
    private long prefetchMemoryBytes = DEFAULT_PREFETCH_MEMORY_BYTES;
    private int batchSize = DEFAULT_BATCH_SIZE;
    private int epochs = 1;
    private long maxSteps;
    private long seed;
    private boolean shuffle = true;
    private int shuffleWindow = DEFAULT_SHUFFLE_WINDOW;
    private int checkpointInterval;
    private Duration inputTimeout = DEFAULT_INPUT_TIMEOUT;
    private int inputThreads = 1;

    public Builder mode(ExecutionMode v) {
      mode = v;
      return this;
    }

    public Builder prefetchDepth(PrefetchDepth v) {
      prefetchDepth = v;
      return this;
    }

    public Builder prefetchDepth(int batches) {
      return prefetchDepth(PrefetchDepth.of(batches));
    }

    public Builder prefetchMemoryBytes(long v) {
      prefetchMemoryBytes = v;
      return this;
    }

    public Builder batchSize(int v) {
      batchSize = v;
      return this;
    }

    public Builder epochs(int v) {
      epochs = v;
      return this;
    }

    public Builder maxSteps(long v) {
      maxSteps = v;
      return this;
    }

    public Builder seed(long v) {
      seed = v;
      return this;
    }

    public Builder shuffle(boolean v) {
      shuffle = v;
      return this;
    }

    public Builder shuffleWindow(int v) {
      shuffleWindow = v;
      return this;
    }

    public Builder checkpointInterval(int v) {
      checkpointInterval = v;
      return this;
    }

    public Builder inputTimeout(Duration v) {
      inputTimeout = v;
      return this;
    }

    public Builder inputThreads(int v) {
      inputThreads = v;
      return this;
    }

    public TrainingConfig build() {
      return new TrainingConfig(this);
    }
  }
}
