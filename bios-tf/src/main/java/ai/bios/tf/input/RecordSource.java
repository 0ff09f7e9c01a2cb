package ai.bios.tf.input;

/**
 * Random-access training records, read by the feeder thread. A record's features and label are
 * written straight into the batch's native tensors through a {@link RecordWriter}; decoding,
 * parsing or augmentation happen inside {@link #read}, on the feeder thread.
 *
 * <p>Implementations must be safe to read from one thread at a time (the feeder) and must give the
 * same record for the same {@code (index, epoch)} every time: Bios's reproducibility and resume
 * guarantees rest on it.
 */
public interface RecordSource {

  /** Number of records. */
  int size();

  /**
   * Writes record {@code index} into {@code out}: exactly one {@code features(...)} call and one
   * {@code label(...)}/{@code labels(...)} call. {@code epoch} lets augmentation vary by epoch
   * deterministically.
   */
  void read(int index, int epoch, RecordWriter out);
}
