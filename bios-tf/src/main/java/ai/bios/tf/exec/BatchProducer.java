package ai.bios.tf.exec;

import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.concurrent.InputPool;
import ai.bios.tf.concurrent.PrefetchQueue;
import ai.bios.tf.input.RecordSource;
import java.util.Optional;

/**
 * Builds the batches of steps {@code first, first + 1, ...} in order until the run's last step,
 * timing each as the INPUT stage. Runs on the feeder thread in EFFICIENT mode and on the training
 * loop in SIMPLE mode. With an {@link InputPool} (EFFICIENT, {@code inputThreads > 1}) a {@link
 * ai.bios.tf.input.ParallelRecordSource}'s records are transformed on the pool's threads, the
 * feeder being one of them.
 *
 * <p>With a complete source every step follows the {@link DataPlan}. With a streamed first epoch
 * ({@code streamed != null}) the steps of that epoch take records as they arrive; the plan for the
 * later epochs is made once the workers have agreed where the first one ended.
 */
final class BatchProducer implements PrefetchQueue.Producer<Batch> {
  private final RecordSource source;
  private final BatchAssembler assembler;
  private final StepTimeline timeline;
  private final RunShape shape;
  private final StreamedEpoch streamed;
  private final int[] indices;
  private final InputPool threads;
  private DataPlan plan;
  private long next;

  /**
   * Builds the batches of steps from {@code first} on, as {@code shape} lays the run out.
   *
   * @param threads the run's input threads, or null to read every record on the calling thread
   */
  BatchProducer(RecordSource source, BatchAssembler assembler, StepTimeline timeline, RunShape shape, long first,
      InputPool threads) {
    this.source = source;
    this.threads = threads;
    this.assembler = assembler;
    this.timeline = timeline;
    this.shape = shape;
    this.streamed = shape.streamed();
    this.indices = streamed == null ? null : new int[shape.localBatch()];
    int known = shape.stepsPerEpoch();
    this.plan = known > 0 ? shape.planFor(known) : null;
    this.next = first;
  }

  @Override
  public Optional<Batch> next() throws InterruptedException {
    long step = next;
    if (plan == null) {
      int steps = streamed.stepsPerEpoch();
      if (steps < 0 && streamed.ranOutBefore(step)) {
        steps = streamed.awaitEnd(step - 1); // out of records: did the epoch end with the last step?
      }
      if (steps > 0) {
        plan = shape.planFor(steps);
      }
    }
    if (step >= shape.endFor(plan != null ? plan.stepsPerEpoch() : -1)) {
      return Optional.empty();
    }
    next++;
    long t0 = System.nanoTime();
    Batch batch;
    if (plan != null) {
      int epoch = plan.epochOf(step);
      batch = assembler.assemble(source, plan.order(epoch), plan.from(step), plan.to(step), epoch, step,
          threads);
    } else if (streamed.ranOutBefore(step)) {
      batch = Batch.empty(0, step); // the others still have records for this step
    } else {
      int n = streamed.take(step, indices);
      batch = assembler.assemble(source, indices, 0, n, 0, step, threads);
    }
    timeline.record(step, Stage.INPUT, t0, System.nanoTime());
    return Optional.of(batch);
  }
}
