package ai.bios.tf.exec;

/**
 * The outcome of one applied step.
 *
 * @param step the step
 * @param loss global mean loss of the step (over all workers' samples)
 * @param samples samples the step used on all workers
 * @param anyMore whether some worker voted that it has records after this step (a streamed
 *     first epoch goes on until nobody does)
 * @param weight the sum of the step's loss weights on all workers (its samples without weights):
 *     {@code loss} is the loss sum divided by it
 */
public record StepResult(long step, double loss, long samples, boolean anyMore, double weight) {

  /** An unweighted step: its weight is its sample count. */
  public StepResult(long step, double loss, long samples, boolean anyMore) {
    this(step, loss, samples, anyMore, samples);
  }
}
