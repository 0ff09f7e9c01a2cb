package ai.bios.tf.checkpoint;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Checkpoints as files {@code ckpt-<step>.bios} in a local directory ({@link FileCheckpointStore}):
 * written to a hidden temporary file, forced to disk, atomically renamed; the last {@code keep} are
 * kept.
 */
public final class LocalCheckpointStore extends FileCheckpointStore {
  private final Path dir;

  public LocalCheckpointStore(Path dir, int keep) {
    this(new LocalFiles(dir.toAbsolutePath()), keep);
  }

  private LocalCheckpointStore(LocalFiles files, int keep) {
    super(files, keep);
    this.dir = files.dir;
  }

  /** Path of the checkpoint for {@code step}. */
  public Path pathFor(long step) {
    return dir.resolve(nameFor(step));
  }

  /** {@link CheckpointFiles} on the local file system (java.nio). */
  private static final class LocalFiles implements CheckpointFiles {
    private final Path dir;

    LocalFiles(Path dir) {
      this.dir = dir;
    }

    @Override
    public String location() {
      return dir.toString();
    }

    @Override
    public String pathOf(String name) {
      return dir.resolve(name).toString();
    }

    @Override
    public void mkdirs() throws IOException {
      Files.createDirectories(dir);
    }

    @Override
    public List<String> list() throws IOException {
      if (!Files.isDirectory(dir)) {
        return List.of();
      }
      try (Stream<Path> files = Files.list(dir)) {
        return files.map(p -> p.getFileName().toString()).collect(Collectors.toList());
      }
    }

    @Override
    public boolean exists(String name) {
      return Files.exists(dir.resolve(name));
    }

    @Override
    public InputStream open(String name) throws IOException {
      return Files.newInputStream(dir.resolve(name));
    }

    @Override
    public OutputStream create(String name) throws IOException {
      FileChannel ch = FileChannel.open(dir.resolve(name), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING);
      return new FilterOutputStream(Channels.newOutputStream(ch)) {
        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
          try (ch) {
            ch.force(true);
          }
        }
      };
    }

    @Override
    public void rename(String from, String to) throws IOException {
      try {
        Files.move(dir.resolve(from), dir.resolve(to), StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("checkpointDir " + dir + " does not support atomic rename", e);
      }
    }

    @Override
    public void delete(String name) throws IOException {
      Files.deleteIfExists(dir.resolve(name));
    }
  }
}
