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

  private final long firstStep;
  private final int steps;
  private final long[] start;
  private final long[] end;

  /** A timeline for steps {@code [firstStep, firstStep + steps)}. */
  public StepTimeline(long firstStep, int steps) {
    this.firstStep = firstStep;
    this.steps = steps;
    this.start = new long[steps * STAGES];
    this.end = new long[steps * STAGES];
  }

  public long firstStep() {
    return firstStep;
  }

  public int steps() {
    return steps;
  }

  /** Records one stage of one step; steps outside the timeline are ignored. */
  public void record(long step, Stage stage, long startNanos, long endNanos) {
    long i = step - firstStep;
    if (i >= 0 && i < steps) {
      int cell = (int) i * STAGES + stage.ordinal();
      start[cell] = startNanos;
      end[cell] = endNanos;
    }
  }

  /** Nanoseconds the stage took in this step, or -1 when it did not run. */
  public long duration(long step, Stage stage) {
    int cell = (int) (step - firstStep) * STAGES + stage.ordinal();
    return end[cell] == 0 ? -1 : end[cell] - start[cell];
  }

  public long start(long step, Stage stage) {
    return start[(int) (step - firstStep) * STAGES + stage.ordinal()];
  }

  public long end(long step, Stage stage) {
    return end[(int) (step - firstStep) * STAGES + stage.ordinal()];
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
