package ai.bios.tf.exec;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a run did and how well it kept the device busy.
 *
 * @param mode the schedule
 * @param prefetchDepth the queue depth used (for {@code auto}, the depth it grew to)
 * @param firstStep the step the run started (or resumed) at
 * @param steps steps this run executed
 * @param samples samples used across all workers
 * @param wallNanos wall time of the step loop
 * @param lossHistory global mean loss of every step from 0 (a resumed run includes the history it
 *     resumed from)
 * @param stageCostNanos per-step cost of each stage (median duration where it ran, times the share
 *     of steps it ran in)
 * @param stepMedianNanos median time of one iteration of the training loop
 * @param overheadMedianNanos median per-step time of the loop spent outside the named stages: queue
 *     handoffs, metrics handoff, bookkeeping (the framework's own cost)
 * @param deviceBusyNanos total time of the device stages (compute and apply)
 * @param inputWaitNanos total time the loop waited for input
 * @param timeline start and end of every stage of every step this run executed
 * @param epochs every finished epoch from 0 (a resumed run includes those it resumed from): mean
 *     training loss and the validation metrics, identical on every worker
 * @param bestEpoch with early stopping, the epoch whose weights the model holds at the end; -1
 *     without early stopping
 * @param stoppedEarly whether early stopping decided to stop (at the end of {@code epochs}' last
 *     epoch, which may also be the run's last)
 */
public record TrainingReport(
    ExecutionMode mode,
    int prefetchDepth,
    long firstStep,
    long steps,
    long samples,
    long wallNanos,
    double[] lossHistory,
    Map<Stage, Double> stageCostNanos,
    double stepMedianNanos,
    double overheadMedianNanos,
    long deviceBusyNanos,
    long inputWaitNanos,
    StepTimeline timeline,
    List<EpochMetrics> epochs,
    int bestEpoch,
    boolean stoppedEarly) {

  public TrainingReport {
    stageCostNanos = new EnumMap<>(stageCostNanos);
    epochs = List.copyOf(epochs);
  }

  /** Epochs finished (the length of {@link #epochs()}). */
  public int epochsRun() {
    return epochs.size();
  }

  public double samplesPerSecond() {
    return wallNanos == 0 ? 0 : samples * 1e9 / wallNanos;
  }

  /** Share of wall time the device ran no compute or apply stage. */
  public double deviceIdleFraction() {
    return wallNanos == 0 ? 0 : Math.max(0, 1.0 - deviceBusyNanos / (double) wallNanos);
  }

  /** Share of wall time the training loop waited for input. */
  public double inputWaitFraction() {
    return wallNanos == 0 ? 0 : inputWaitNanos / (double) wallNanos;
  }

  public double finalLoss() {
    return lossHistory.length == 0 ? Double.NaN : lossHistory[lossHistory.length - 1];
  }

  /** Per-step cost of a stage in milliseconds. */
  public double stageMillis(Stage stage) {
    return stageCostNanos.getOrDefault(stage, 0.0) / 1e6;
  }

  /**
   * Sum of the work stages' per-step costs over the longest one: the most that overlapping the
   * stages can win (docs/architecture.md, performance model).
   */
  public double ceiling() {
    double sum = 0;
    double max = 0;
    for (Stage s : Stage.values()) {
      if (s.isWork()) {
        double c = stageCostNanos.getOrDefault(s, 0.0);
        sum += c;
        max = Math.max(max, c);
      }
    }
    return max == 0 ? 1 : sum / max;
  }

  /** Longest work stage's per-step cost, nanoseconds. */
  public double longestStageNanos() {
    double max = 0;
    for (Stage s : Stage.values()) {
      if (s.isWork()) {
        max = Math.max(max, stageCostNanos.getOrDefault(s, 0.0));
      }
    }
    return max;
  }

  @Override
  public String toString() {
    StringBuilder stages = new StringBuilder();
    for (Stage s : Stage.values()) {
      stages.append(String.format(Locale.ROOT, " %s=%.2fms", s.name().toLowerCase(Locale.ROOT), stageMillis(s)));
    }
    return String.format(Locale.ROOT,
        "TrainingReport{mode=%s, steps=%d, samples/s=%.1f, final loss=%.5f, step median=%.3fms, overhead=%.3fms, "
            + "device idle=%.1f%%, input wait=%.1f%%, prefetchDepth=%d, stages:%s}",
        mode, steps, samplesPerSecond(), finalLoss(), stepMedianNanos / 1e6, overheadMedianNanos / 1e6,
        100 * deviceIdleFraction(), 100 * inputWaitFraction(), prefetchDepth, stages);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TrainingReport r && mode == r.mode && steps == r.steps && firstStep == r.firstStep
        && Arrays.equals(lossHistory, r.lossHistory)
        && epochs.stream().map(EpochMetrics::withoutTime).toList()
            .equals(r.epochs.stream().map(EpochMetrics::withoutTime).toList());
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(lossHistory);
  }
}
