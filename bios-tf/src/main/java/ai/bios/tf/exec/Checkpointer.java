package ai.bios.tf.exec;

import ai.bios.tf.checkpoint.Checkpoint;
import ai.bios.tf.checkpoint.CheckpointStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Supplier;

/** Writes the checkpoints that fall due, then tells the reporter. Owned and closed by the loop. */
interface Checkpointer extends AutoCloseable {

  /** A checkpointer for a worker that writes none (no store, or another worker writes). */
  Checkpointer NONE = new Checkpointer() {
    @Override
    public long checkpoint(long step, Supplier<Checkpoint> snapshot) {
      return 0;
    }

    @Override
    public void finish() {}

    @Override
    public void close() {}
  };

  /**
   * Takes the checkpoint {@code snapshot} makes after {@code step} and writes it (now or in the
   * background). Returns the nanoseconds it spent on the loop's thread that no timeline stage
   * records.
   */
  long checkpoint(long step, Supplier<Checkpoint> snapshot);

  /** Waits for the last write; rethrows its failure. */
  void finish();

  @Override
  void close();

  /** Writes {@code c}; a failure carries the store's message (the step, the location and the fix). */
  static void write(CheckpointStore store, Checkpoint c) {
    try {
      store.write(c);
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
  }
}
