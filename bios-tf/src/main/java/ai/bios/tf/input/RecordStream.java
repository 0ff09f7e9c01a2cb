package ai.bios.tf.input;

/**
 * Records that arrive while training runs: a source that grows. The first epoch takes records as
 * they arrive (see {@link ai.bios.tf.exec.TrainingConfig#shuffleWindow()}); once the stream is
 * exhausted the source holds every record and later epochs replay it like any
 * {@link RecordSource}. Nobody needs the record count before training starts, so a worker can
 * train on the first records while the rest are still being produced (read, decoded, fetched).
 *
 * <p>{@link #advance()} and {@link #read} are called by one thread at a time (the feeder); a
 * record, once arrived, must read back the same every time.
 */
public interface RecordStream extends RecordSource {

  /**
   * Makes the next record available as {@code size() - 1}, or returns {@code false} when the
   * stream has ended (and keeps returning {@code false}). May block while the record is produced.
   */
  boolean advance();

  /** Records arrived so far (all of them once {@link #advance()} has returned false). */
  @Override
  int size();
}
