package ai.bios.tf.exec;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;

/**
 * Start and end of every stage of every step of one run, in {@link System#nanoTime()} units.
 * Each (step, stage) cell is written by the one thread that runs that stage, before handing the
 * step on (queue, join), so reads after the run see every write.
 */
public final class StepTimeline {
  private static final int STAGES = Stage.values().length;
  private static final int CHUNK_STEPS = 1024;

  private final long firstStep;
  private final int steps;
  private final Object grow = new Object();
  /** Cells of steps {@code [c * CHUNK_STEPS, (c + 1) * CHUNK_STEPS)}: start then end per stage. */
  private volatile long[][] chunks = new long[0][];

  /**
   * A timeline for steps {@code [firstStep, firstStep + steps)}; {@code steps} may be a bound
   * (e.g. {@link Integer#MAX_VALUE} while a streamed first epoch has not told the run's length):
   * storage grows with the steps recorded.
   */
  public StepTimeline(long firstStep, int steps) {
    this.firstStep = firstStep;
    this.steps = steps;
  }

  public long firstStep() {
    return firstStep;
  }

  /** Records one stage of one step; steps outside the timeline are ignored. */
  public void record(long step, Stage stage, long startNanos, long endNanos) {
    long i = step - firstStep;
    if (i >= 0 && i < steps) {
      long[] chunk = chunk((int) (i / CHUNK_STEPS), true);
      int cell = (int) (i % CHUNK_STEPS) * STAGES * 2 + stage.ordinal() * 2;
      chunk[cell] = startNanos;
      chunk[cell + 1] = endNanos;
    }
  }

  /** Nanoseconds the stage took in this step, or -1 when it did not run. */
  public long duration(long step, Stage stage) {
    long end = end(step, stage);
    return end == 0 ? -1 : end - start(step, stage);
  }

  public long start(long step, Stage stage) {
    return cell(step, stage, 0);
  }

  public long end(long step, Stage stage) {
    return cell(step, stage, 1);
  }

  private long cell(long step, Stage stage, int which) {
    long i = step - firstStep;
    if (i < 0 || i >= steps) {
      return 0;
    }
    long[] chunk = chunk((int) (i / CHUNK_STEPS), false);
    return chunk == null ? 0 : chunk[(int) (i % CHUNK_STEPS) * STAGES * 2 + stage.ordinal() * 2 + which];
  }

  /**
   * The chunk, made on first write. Writers of different stages of one chunk share the array, so
   * growing copies only the outer table; a cell is read after the hand-off that publishes it.
   */
  private long[] chunk(int c, boolean create) {
    long[][] table = chunks;
    if (c < table.length && table[c] != null) {
      return table[c];
    }
    if (!create) {
      return null;
    }
    synchronized (grow) {
      table = chunks;
      if (c >= table.length) {
        table = java.util.Arrays.copyOf(table, Math.max(c + 1, table.length * 2));
      }
      if (table[c] == null) {
        table = table.clone();
        table[c] = new long[CHUNK_STEPS * STAGES * 2];
      }
      chunks = table;
      return table[c];
    }
  }

  /** Total nanoseconds spent in the stage over the first {@code n} steps. */
  public long total(Stage stage, int n) {
    long sum = 0;
    for (int s = 0; s < n; s++) {
      long d = duration(firstStep + s, stage);
      if (d > 0) {
        sum += d;
      }
    }
    return sum;
  }

  /**
   * Per-step cost of each stage over steps {@code [from, to)}: the median duration of the steps in
   * which the stage ran, times the share of steps in which it ran (so a checkpoint every 4 steps
   * costs a quarter of its median per step). Nanoseconds.
   */
  public Map<Stage, Double> perStepCost(int from, int to) {
    Map<Stage, Double> cost = new EnumMap<>(Stage.class);
    for (Stage stage : Stage.values()) {
      long[] d = new long[to - from];
      int n = 0;
      for (int s = from; s < to; s++) {
        long v = duration(firstStep + s, stage);
        if (v >= 0) {
          d[n++] = v;
        }
      }
      cost.put(stage, n == 0 ? 0.0 : median(Arrays.copyOf(d, n)) * n / (double) (to - from));
    }
    return cost;
  }

  static double median(long[] values) {
    if (values.length == 0) {
      return 0;
    }
    long[] v = values.clone();
    Arrays.sort(v);
    int m = v.length / 2;
    return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2.0;
  }
}
