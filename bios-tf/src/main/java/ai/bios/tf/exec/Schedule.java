package ai.bios.tf.exec;

import ai.bios.tf.checkpoint.CheckpointStore;
import ai.bios.tf.concurrent.Cancellation;
import java.time.Duration;

/**
 * What an {@link ExecutionMode} changes: which thread builds batches, reports and writes
 * checkpoints. The step loop asks its schedule for these three parts and runs the same steps in the
 * same order with either, so the maths never depends on the schedule. See {@link SimpleSchedule}
 * and {@link EfficientSchedule}.
 */
sealed interface Schedule permits SimpleSchedule, EfficientSchedule {

  static Schedule of(ExecutionMode mode) {
    return mode == ExecutionMode.EFFICIENT ? EfficientSchedule.INSTANCE : SimpleSchedule.INSTANCE;
  }

  ExecutionMode mode();

  /** Where the loop takes each step's batch from. */
  Input input(BatchProducer producer, Parts parts);

  /** Who delivers each finished step to the listener. */
  Reporter reporter(Parts parts);

  /** Who writes due checkpoints (and then tells {@code reporter}). */
  Checkpointer checkpointer(CheckpointStore store, Reporter reporter, Parts parts);

  /** The stages the training loop's own thread runs each step (the rest run elsewhere). */
  Stage[] loopStages();

  /**
   * What the parts of one run share.
   *
   * @param config the run's settings (prefetch depth and memory, the hand-off timeout)
   * @param timeline where every part records its stages
   * @param batchBytes the size of one batch, for an automatic prefetch depth
   * @param listener receives the steps
   * @param threadPrefix prefix of the names of the threads parts start
   * @param cancellation checked by every wait of the run's parts, at least once a second
   */
  record Parts(TrainingConfig config, StepTimeline timeline, long batchBytes, StepListener listener,
      String threadPrefix, Cancellation cancellation) {
    Duration handOffTimeout() {
      return config.inputTimeout();
    }
  }
}
