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

  /** Called after a checkpoint for {@code step} is durably written. */
  default void onCheckpoint(long step) throws Exception {}

  StepListener NONE = m -> {};
}
