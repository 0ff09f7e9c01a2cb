package ai.bios.tf.checkpoint;

import ai.bios.tf.InvalidSettingException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checkpoints as files {@code ckpt-<step>.bios} in a local directory: written to a hidden temporary
 * file, forced to disk, atomically renamed; the last {@code keep} are kept.
 */
public final class LocalCheckpointStore implements CheckpointStore {
  private static final Pattern NAME = Pattern.compile("ckpt-(\\d{12})\\.bios");

  private final Path dir;
  private final int keep;

  public LocalCheckpointStore(Path dir, int keep) {
    this.dir = dir.toAbsolutePath();
    this.keep = InvalidSettingException.atLeast("keepCheckpoints", keep, 1);
  }

  @Override
  public String location() {
    return dir.toString();
  }

  /** Path of the checkpoint for {@code step}. */
  public Path pathFor(long step) {
    return dir.resolve(String.format(Locale.ROOT, "ckpt-%012d.bios", step));
  }

  @Override
  public void write(Checkpoint checkpoint) throws IOException {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new IOException("checkpointDir " + dir + " cannot be created: " + e
          + "; point checkpointDir at a writable directory", e);
    }
    Path target = pathFor(checkpoint.nextStep());
    Path tmp = dir.resolve("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid());
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
      checkpoint.writeTo(out);
      out.flush();
      ch.force(true);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.deleteIfExists(tmp);
      throw new IOException("checkpointDir " + dir + " does not support atomic rename", e);
    }
    prune();
  }

  private void prune() throws IOException {
    List<Long> steps = steps();
    for (int i = 0; i + keep < steps.size(); i++) {
      Files.deleteIfExists(pathFor(steps.get(i)));
    }
  }

  /** Steps of the complete checkpoints present, oldest first. */
  public List<Long> steps() throws IOException {
    List<Long> steps = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return steps;
    }
    try (Stream<Path> files = Files.list(dir)) {
      files.forEach(p -> {
        Matcher m = NAME.matcher(p.getFileName().toString());
        if (m.matches()) {
          steps.add(Long.parseLong(m.group(1)));
        }
      });
    }
    steps.sort(null);
    return steps;
  }

  @Override
  public Optional<Checkpoint> read(long step) throws IOException {
    Path p = pathFor(step);
    if (!Files.exists(p)) {
      return Optional.empty();
    }
    try (InputStream in = new BufferedInputStream(Files.newInputStream(p), 1 << 16)) {
      return Optional.of(Checkpoint.readFrom(in, p.toString()));
    }
  }

  @Override
  public Optional<Checkpoint> latest() throws IOException {
    List<Long> steps = steps();
    IOException failures = null;
    for (int i = steps.size() - 1; i >= 0; i--) {
      Path p = pathFor(steps.get(i));
      try (InputStream in = new BufferedInputStream(Files.newInputStream(p), 1 << 16)) {
        return Optional.of(Checkpoint.readFrom(in, p.toString()));
      } catch (IOException e) {
        if (failures == null) {
          failures = new IOException("no checkpoint in " + dir + " verifies");
        }
        failures.addSuppressed(e);
      }
    }
    if (failures != null) {
      throw failures;
    }
    return Optional.empty();
  }
}
