package ai.bios.tf.exec;

/**
 * The outcome of one applied step.
 *
 * @param step the step
 * @param loss global mean loss of the step (over all workers' samples)
 * @param samples samples the step used on all workers
 */
public record StepResult(long step, double loss, long samples) {}
