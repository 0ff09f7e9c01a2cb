package ai.bios.tf.input;

/**
 * A {@link RecordSource} whose per-record work (decoding, resizing, augmenting, tokenising) may run
 * on several input threads. Reading a record is split in two:
 *
 * <ul>
 *   <li>{@link #fetch} returns the record's raw input (for example its encoded bytes). It is called
 *       on one thread at a time (the feeder), in the order the batch lists its records, so it may
 *       use the source's own buffers and files.
 *   <li>{@link #transform} turns raw input into the record's features and label. It is called
 *       concurrently for different records, from any of the run's input threads, so it must be
 *       thread-safe; and it must be a pure function of {@code (raw, index, epoch)}: the weights a
 *       run trains are then bitwise the same for any number of input threads.
 * </ul>
 *
 * <p>The engine calls {@link #fetch} for every record of a batch, then the transforms on its input
 * threads; each record lands in its own row of the batch, so the order never depends on which
 * thread finished first. A single-threaded reader just calls {@link #read}.
 *
 * @param <R> a record's raw input; must not be shared with another fetched record
 */
public interface ParallelRecordSource<R> extends RecordSource {

  /** Record {@code index}'s raw input. Called on the feeder thread only. */
  R fetch(int index);

  /**
   * Writes record {@code index} from its raw input into {@code out}: exactly one features call and
   * one label call, as {@link RecordSource#read} does. Thread-safe; deterministic in {@code (raw,
   * index, epoch)}.
   */
  void transform(R raw, int index, int epoch, RecordWriter out);

  /** Fetches and transforms on the calling thread. */
  @Override
  default void read(int index, int epoch, RecordWriter out) {
    transform(fetch(index), index, epoch, out);
  }
}
