package ai.bios.tf.exec;

import ai.bios.tf.input.Batch;
import ai.bios.tf.concurrent.PrefetchQueue;

/**
 * EFFICIENT: a feeder thread keeps up to {@code prefetchDepth} batches ready in a {@link
 * PrefetchQueue}, which owns that thread, carries its errors to {@link #take} and stops it on
 * {@link #close}.
 */
final class QueuedInput implements Input {
  private final PrefetchQueue<Batch> queue;
  private final StepTimeline timeline;

  QueuedInput(BatchProducer producer, Schedule.Parts parts) {
    PrefetchDepth depth = parts.config().prefetchDepth();
    String name = parts.threadPrefix() + "-feeder";
    PrefetchQueue<Batch> q = depth.automatic()
        ? PrefetchQueue.auto(producer, Math.max(1, parts.batchBytes()), parts.config().prefetchMemoryBytes(), name)
        : PrefetchQueue.fixed(producer, depth.batches(), name);
    this.queue = q.withTakeTimeout(parts.handOffTimeout()).withCancellation(parts.cancellation()).start();
    this.timeline = parts.timeline();
  }

  @Override
  public Batch take(long step) {
    long t0 = System.nanoTime();
    Batch b = queue.take().orElseThrow(() -> new IllegalStateException("feeder ended before step " + step));
    timeline.record(step, Stage.INPUT_WAIT, t0, System.nanoTime());
    if (b.step() != step) {
      b.close();
      throw new IllegalStateException("feeder delivered step " + b.step() + " for step " + step);
    }
    return b;
  }

  @Override
  public long waitNanos() {
    return queue.consumerWaitNanos();
  }

  @Override
  public int depth() {
    return queue.depth();
  }

  @Override
  public void close() {
    queue.close();
  }
}
