package ai.bios.tf.exec;

import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.PrefetchQueue;
import ai.bios.tf.input.RecordSource;
import java.util.Optional;

/**
 * Builds the batches of steps {@code [next, end)} in order, timing each as the INPUT stage. Runs
 * on the feeder thread in EFFICIENT mode and on the training loop in SIMPLE mode.
 */
final class BatchProducer implements PrefetchQueue.Producer<Batch> {
  private final RecordSource source;
  private final BatchAssembler assembler;
  private final DataPlan plan;
  private final StepTimeline timeline;
  private final long end;
  private long next;

  BatchProducer(RecordSource source, BatchAssembler assembler, DataPlan plan, StepTimeline timeline,
      long first, long end) {
    this.source = source;
    this.assembler = assembler;
    this.plan = plan;
    this.timeline = timeline;
    this.next = first;
    this.end = end;
  }

  @Override
  public Optional<Batch> next() {
    if (next >= end) {
      return Optional.empty();
    }
    long step = next++;
    long t0 = System.nanoTime();
    int epoch = plan.epochOf(step);
    Batch batch = assembler.assemble(source, plan.order(epoch), plan.from(step), plan.to(step), epoch, step);
    timeline.record(step, Stage.INPUT, t0, System.nanoTime());
    return Optional.of(batch);
  }
}
