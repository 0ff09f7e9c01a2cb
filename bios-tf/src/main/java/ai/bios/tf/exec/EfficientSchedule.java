package ai.bios.tf.exec;

import ai.bios.tf.checkpoint.CheckpointStore;

/**
 * EFFICIENT: everything that does not change the model leaves the training loop's thread, so the
 * device goes from one step's update straight to the next step's gradients.
 *
 * <pre>
 * feeder thread        builds the batches of the next steps ahead, up to prefetchDepth
 * training loop        take batch -> gradients -> aggregate -> apply -> hand off metrics
 *                      -> snapshot a due checkpoint
 * reporter thread      delivers metrics to the listener, in step order
 * checkpointer thread  writes the snapshot (one write in flight; the last awaited before the run ends)
 * </pre>
 *
 * The loop runs the same steps on the same batches in the same order as {@link SimpleSchedule}:
 * the weights are bitwise the same; only where the waiting happens differs.
 */
final class EfficientSchedule implements Schedule {
  static final EfficientSchedule INSTANCE = new EfficientSchedule();

  private static final Stage[] LOOP_STAGES = {Stage.INPUT_WAIT, Stage.COMPUTE, Stage.AGGREGATE, Stage.APPLY};

  private EfficientSchedule() {}

  @Override
  public ExecutionMode mode() {
    return ExecutionMode.EFFICIENT;
  }

  @Override
  public Input input(BatchProducer producer, Parts parts) {
    return new QueuedInput(producer, parts);
  }

  @Override
  public Reporter reporter(Parts parts) {
    return new AsyncReporter(parts);
  }

  @Override
  public Checkpointer checkpointer(CheckpointStore store, Reporter reporter, Parts parts) {
    return new BackgroundCheckpointer(store, reporter, parts);
  }

  @Override
  public Stage[] loopStages() {
    return LOOP_STAGES.clone();
  }
}
