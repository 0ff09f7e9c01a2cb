package ai.bios.tf.exec;

/**
 * Receives each finished step, in step order. In SIMPLE mode it runs on the training loop (and its
 * time is the REPORT stage); in EFFICIENT mode on a background reporter thread, off the critical
 * path. An exception it throws fails the run.
 */
@FunctionalInterface
public interface StepListener {
  void onStep(StepMetrics metrics) throws Exception;

  /**
   * Called when an epoch ends, after its last step's {@link #onStep}: its mean training loss and
   * validation metrics.
   */
  default void onEpoch(EpochMetrics epoch) throws Exception {}

  /**
   * Called once before the first step with the run's timeline, which the listener may read for
   * steps it has been handed (their stages up to APPLY are recorded before {@link #onStep}; REPORT
   * and CHECKPOINT of earlier steps may still be in flight and read as not run).
   */
  default void onTimeline(StepTimeline timeline) throws Exception {}

  /** Called after a checkpoint for {@code step} is durably written. */
  default void onCheckpoint(long step) throws Exception {}

  StepListener NONE = m -> {};
}
