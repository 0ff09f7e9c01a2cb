package ai.bios.tf.exec;

import ai.bios.tf.checkpoint.Checkpoint;
import ai.bios.tf.checkpoint.CheckpointStore;
import java.util.function.Supplier;

/** SIMPLE: the loop snapshots and writes the checkpoint itself; both are the step's CHECKPOINT stage. */
final class InlineCheckpointer implements Checkpointer {
  private final CheckpointStore store;
  private final StepTimeline timeline;
  private final Reporter reporter;

  InlineCheckpointer(CheckpointStore store, StepTimeline timeline, Reporter reporter) {
    this.store = store;
    this.timeline = timeline;
    this.reporter = reporter;
  }

  @Override
  public long checkpoint(long step, Supplier<Checkpoint> snapshot) {
    long t0 = System.nanoTime();
    Checkpoint c = snapshot.get();
    Checkpointer.write(store, c);
    timeline.record(step, Stage.CHECKPOINT, t0, System.nanoTime());
    reporter.checkpointed(c.nextStep());
    return 0;
  }

  @Override
  public void finish() {}

  @Override
  public void close() {}
}
