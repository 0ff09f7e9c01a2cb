package ai.bios.tf.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;

/**
 * The few operations {@link FileCheckpointStore} needs on the one directory that holds its files,
 * by file name. The local implementation is {@link LocalCheckpointStore}'s; bios-spark adds Hadoop
 * file systems.
 */
public interface CheckpointFiles {

  /** The directory, for messages. */
  String location();

  /** The full name of file {@code name}, for messages. */
  String pathOf(String name);

  /** Creates the directory (and its parents) if it does not exist. */
  void mkdirs() throws IOException;

  /** The names of the files in the directory; empty if the directory does not exist. */
  List<String> list() throws IOException;

  boolean exists(String name) throws IOException;

  InputStream open(String name) throws IOException;

  /**
   * Creates file {@code name} for writing (the store only creates fresh temporary names, so an
   * implementation may refuse an existing file). What has been written is durable (forced
   * to disk where the file system allows) once the stream is closed without an exception.
   */
  OutputStream create(String name) throws IOException;

  /** Renames {@code from} to {@code to}, replacing {@code to}; throws if it cannot. */
  void rename(String from, String to) throws IOException;

  /** Deletes {@code name} if it exists. */
  void delete(String name) throws IOException;
}
