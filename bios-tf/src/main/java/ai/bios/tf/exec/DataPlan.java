package ai.bios.tf.exec;

import java.util.SplittableRandom;

/**
 * Which of this worker's records go into which step. Each epoch visits the worker's records once,
 * in an order drawn from {@code (seed, epoch, rank)}; step {@code s} of the epoch takes the
 * {@code s}-th run of {@code localBatch} records. Every worker takes {@code stepsPerEpoch} steps (the
 * most any worker needs), so a worker that runs out takes empty batches and contributes no samples.
 *
 * <p>The order is a pure function of its inputs: no RNG state is carried from step to step, so a
 * run resumed at step {@code k} sees exactly the batches an uninterrupted run would.
 */
public final class DataPlan {
  private final int shardSize;
  private final int localBatch;
  private final int stepsPerEpoch;
  private final long seed;
  private final int rank;
  private final boolean shuffle;
  private int cachedEpoch = -1;
  private int[] cachedOrder;

  public DataPlan(int shardSize, int localBatch, int stepsPerEpoch, long seed, int rank) {
    this(shardSize, localBatch, stepsPerEpoch, seed, rank, true);
  }

  /** With {@code shuffle == false} every epoch takes the records in stored order. */
  public DataPlan(int shardSize, int localBatch, int stepsPerEpoch, long seed, int rank, boolean shuffle) {
    if (localBatch < 1) {
      throw new IllegalArgumentException("localBatch must be >= 1, was " + localBatch);
    }
    int needed = stepsFor(shardSize, localBatch);
    if (stepsPerEpoch < needed) {
      throw new IllegalArgumentException("stepsPerEpoch " + stepsPerEpoch + " is too few for "
          + shardSize + " records in batches of " + localBatch + " (needs " + needed + ")");
    }
    this.shardSize = shardSize;
    this.localBatch = localBatch;
    this.stepsPerEpoch = stepsPerEpoch;
    this.seed = seed;
    this.rank = rank;
    this.shuffle = shuffle;
  }

  /** Steps one worker needs to visit {@code records} records in batches of {@code localBatch}. */
  public static int stepsFor(int records, int localBatch) {
    return (records + localBatch - 1) / localBatch;
  }

  public int stepsPerEpoch() {
    return stepsPerEpoch;
  }

  public int localBatch() {
    return localBatch;
  }

  public int epochOf(long step) {
    return (int) (step / stepsPerEpoch);
  }

  /** First record position (inclusive) of {@code step} within its epoch's order. */
  int from(long step) {
    long s = step % stepsPerEpoch;
    return (int) Math.min((long) shardSize, s * localBatch);
  }

  /** Last record position (exclusive) of {@code step} within its epoch's order. */
  int to(long step) {
    return (int) Math.min((long) shardSize, (long) from(step) + localBatch);
  }

  /** The order of this worker's records in {@code epoch}. Cached for the current epoch. */
  int[] order(int epoch) {
    if (epoch != cachedEpoch) {
      int[] order = new int[shardSize];
      for (int i = 0; i < shardSize; i++) {
        order[i] = i;
      }
      SplittableRandom rnd = new SplittableRandom(mix(seed, epoch, rank));
      for (int i = shardSize - 1; shuffle && i > 0; i--) {
        int j = rnd.nextInt(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      cachedOrder = order;
      cachedEpoch = epoch;
    }
    return cachedOrder;
  }

  private static long mix(long seed, int epoch, int rank) {
    long h = seed * 0x9E3779B97F4A7C15L;
    h ^= (epoch + 1L) * 0xC2B2AE3D27D4EB4FL;
    h ^= (rank + 1L) * 0x165667B19E3779F9L;
    return h;
  }
}
