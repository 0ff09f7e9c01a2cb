package ai.bios.tf.exec;

/** The stages of one training step, as the timeline records them. */
public enum Stage {
  /** Preparing the batch: reading, decoding, validating, copying into tensors (feeder thread in EFFICIENT). */
  INPUT,
  /** The training loop blocked waiting for the next batch. */
  INPUT_WAIT,
  /** Forward and backward pass: the gradient of the batch's loss sum. */
  COMPUTE,
  /** Summing gradients and counts across workers. */
  AGGREGATE,
  /** The optimizer update with the averaged gradients. */
  APPLY,
  /** Reading the loss back and handing the step's metrics to the listener. */
  REPORT,
  /** Writing a checkpoint (in EFFICIENT: the background write; the loop only snapshots). */
  CHECKPOINT;

  /** Stages whose durations make up the work of a step (all but the wait). */
  public boolean isWork() {
    return this != INPUT_WAIT;
  }
}
