package ai.bios.tf.checkpoint;

import java.io.IOException;
import java.util.Optional;

/**
 * Where checkpoints live. Writes are atomic: a checkpoint becomes visible only once complete (written
 * under a temporary name, then renamed), so a crash mid-write never hides or corrupts the newest
 * complete one. Older checkpoints beyond the retention count are deleted only after a newer one is
 * complete. {@link FileCheckpointStore} implements this over any {@link CheckpointFiles}:
 * {@link LocalCheckpointStore} locally, bios-spark's on Hadoop file systems.
 */
public interface CheckpointStore {

  /** Writes the checkpoint for {@code checkpoint.nextStep()} atomically, then prunes old ones. */
  void write(Checkpoint checkpoint) throws IOException;

  /**
   * The newest complete checkpoint that verifies, if any. A newest file that fails verification is
   * skipped for the one before it (and reported through the exception's suppressed list only if
   * none verifies).
   */
  Optional<Checkpoint> latest() throws IOException;

  /** The checkpoint whose next step is {@code step}, if it exists; fails if it does not verify. */
  Optional<Checkpoint> read(long step) throws IOException;

  /** A human-readable location, for messages. */
  String location();
}
