package ai.bios.tf.exec;

/**
 * What one finished step reports: its global mean loss, the samples it used across all workers,
 * and where in the run it stands.
 *
 * @param step global step, 0-based
 * @param epoch epoch, 0-based
 * @param totalSteps steps in the whole run, or -1 while a streamed first epoch is still running
 *     (its length is known when it ends)
 * @param loss mean loss over the step's samples on all workers
 * @param samples samples the step used on all workers
 * @param elapsedNanos nanoseconds since the run started
 * @param samplesSoFar samples used since the run (or its resumption) started
 * @param inputWaitNanos time the loop has waited for input since the run started
 * @param deviceBusyNanos time the device stages (compute, apply) have run since the run started
 */
public record StepMetrics(
    long step, int epoch, long totalSteps, double loss, long samples, long elapsedNanos, long samplesSoFar,
    long inputWaitNanos, long deviceBusyNanos) {

  /** Share of the run so far the loop waited for input. */
  public double inputWaitFraction() {
    return elapsedNanos == 0 ? 0 : inputWaitNanos / (double) elapsedNanos;
  }

  /** Share of the run so far the device ran neither compute nor apply. */
  public double deviceIdleFraction() {
    return elapsedNanos == 0 ? 0 : Math.max(0, 1 - deviceBusyNanos / (double) elapsedNanos);
  }


  /** Samples per second since the run started. */
  public double samplesPerSecond() {
    return elapsedNanos == 0 ? 0 : samplesSoFar * 1e9 / elapsedNanos;
  }
}
