package ai.bios.tf.exec;

/**
 * The outcome of one applied step.
 *
 * @param step the step
 * @param loss global mean loss of the step (over all workers' samples)
 * @param samples samples the step used on all workers
 * @param anyMore whether some worker voted that it has records after this step (a streamed
 *     first epoch goes on until nobody does)
 */
public record StepResult(long step, double loss, long samples, boolean anyMore) {}
