package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import java.util.Arrays;

/**
 * Records one run as the training loop sees it: the loss and samples of each step, the running
 * input-wait and device-busy times the listener sees in {@link StepMetrics}, the loop's own time per
 * iteration, and at the end the {@link TrainingReport}. Used by the loop's thread only; the {@link
 * StepTimeline} it holds is written by every thread of the run (see its own contract).
 */
final class RunRecorder {
  private final Schedule schedule;
  private final Stage[] loopStages;
  private final LossHistory losses;
  private final StepTimeline timeline;
  private final long first;
  private final Longs loopStart = new Longs();
  private final Longs loopEnd = new Longs();
  private final Longs accounted = new Longs(); // time of named stages on the loop thread
  private long t0;
  private long samples;
  private long waitedSoFar;
  private long busySoFar;
  private long wall;
  private long steps;
  private long inputWait;
  private int depth;

  /** A recorder for a run from step {@code first} until before {@code end} (as far as known now). */
  RunRecorder(Schedule schedule, LossHistory losses, long first, long end, boolean lengthKnown) {
    this.schedule = schedule;
    this.loopStages = schedule.loopStages();
    this.losses = losses;
    this.first = first;
    int bound = (int) Math.min(Integer.MAX_VALUE / Stage.values().length, end - first);
    if (end - first > bound && lengthKnown) {
      throw new BiosException("run of " + (end - first) + " steps is too long for one loop");
    }
    this.timeline = new StepTimeline(first, bound);
  }

  StepTimeline timeline() {
    return timeline;
  }

  /** The run's clock starts. */
  void start() {
    t0 = System.nanoTime();
  }

  /** Records the step's result; returns what the listener gets for it. */
  StepMetrics stepDone(StepResult result, int epoch, long totalSteps) {
    long step = result.step();
    losses.set(step, result.loss());
    samples += result.samples();
    waitedSoFar += Math.max(0, timeline.duration(step, Stage.INPUT_WAIT));
    busySoFar += timeline.duration(step, Stage.COMPUTE) + timeline.duration(step, Stage.APPLY);
    return new StepMetrics(step, epoch, totalSteps, result.loss(), result.samples(), System.nanoTime() - t0,
        samples, waitedSoFar, busySoFar);
  }

  /**
   * Records the loop's iteration for {@code step}, begun at {@code begin}; {@code unrecordedNanos}
   * is time the loop spent on named work no timeline stage holds (an EFFICIENT checkpoint snapshot).
   */
  void iterationDone(long step, long begin, long unrecordedNanos) {
    loopStart.add(begin);
    loopEnd.add(System.nanoTime());
    long named = unrecordedNanos;
    for (Stage stage : loopStages) {
      named += Math.max(0, timeline.duration(step, stage));
    }
    accounted.add(named);
  }

  /** The loop ran until before {@code end}; {@code input} tells how it waited for batches. */
  void finished(long end, Input input) {
    steps = end - first;
    inputWait = input.waitNanos();
    depth = input.depth();
  }

  /** The report, once the run's threads have ended (the wall time ends here). */
  TrainingReport report(Epochs epochs) {
    wall = System.nanoTime() - t0;
    int n = (int) steps;
    long[] iterations = new long[n];
    long[] overhead = new long[n];
    for (int i = 0; i < n; i++) {
      iterations[i] = loopEnd.get(i) - loopStart.get(i);
      overhead[i] = Math.max(0, iterations[i] - accounted.get(i));
    }
    return new TrainingReport(schedule.mode(), depth, first, n, samples, wall, losses.upTo(first + n),
        timeline.perStepCost(0, n), StepTimeline.median(iterations), StepTimeline.median(overhead),
        timeline.total(Stage.COMPUTE, n) + timeline.total(Stage.APPLY, n), inputWait, timeline,
        epochs.history(), epochs.bestEpoch(), epochs.stopped());
  }

  /** A growing list of longs. */
  private static final class Longs {
    private long[] values = new long[1024];
    private int size;

    void add(long v) {
      if (size == values.length) {
        values = Arrays.copyOf(values, values.length * 2);
      }
      values[size++] = v;
    }

    long get(int i) {
      return values[i];
    }
  }
}
