package ai.bios.tf.exec;

import ai.bios.tf.checkpoint.CheckpointStore;

/**
 * SIMPLE: one stage after another on the training loop's thread, no other thread.
 *
 * <pre>
 * build batch -> gradients -> aggregate -> apply -> report -> checkpoint (when due)
 * </pre>
 */
final class SimpleSchedule implements Schedule {
  static final SimpleSchedule INSTANCE = new SimpleSchedule();

  private static final Stage[] LOOP_STAGES = {
    Stage.INPUT, Stage.COMPUTE, Stage.AGGREGATE, Stage.APPLY, Stage.REPORT, Stage.CHECKPOINT
  };

  private SimpleSchedule() {}

  @Override
  public ExecutionMode mode() {
    return ExecutionMode.SIMPLE;
  }

  @Override
  public Input input(BatchProducer producer, Parts parts) {
    return new DirectInput(producer);
  }

  @Override
  public Reporter reporter(Parts parts) {
    return new InlineReporter(parts.listener(), parts.timeline());
  }

  @Override
  public Checkpointer checkpointer(CheckpointStore store, Reporter reporter, Parts parts) {
    return new InlineCheckpointer(store, parts.timeline(), reporter);
  }

  @Override
  public Stage[] loopStages() {
    return LOOP_STAGES.clone();
  }
}
