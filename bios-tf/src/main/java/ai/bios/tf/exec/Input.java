package ai.bios.tf.exec;

import ai.bios.tf.input.Batch;

/** Where the training loop takes each step's batch from. Owned and closed by the loop. */
interface Input extends AutoCloseable {
  /** The batch of {@code step}; the caller closes it. */
  Batch take(long step);

  /** Nanoseconds the loop has waited for batches built elsewhere (0 when it builds them itself). */
  long waitNanos();

  /** Batches queued ahead at most (0 when nothing is queued ahead). */
  int depth();

  @Override
  void close();
}
