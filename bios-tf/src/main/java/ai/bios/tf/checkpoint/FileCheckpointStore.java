package ai.bios.tf.checkpoint;

import ai.bios.tf.InvalidSettingException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checkpoints as files {@code ckpt-<step>.bios} in one directory of any file system
 * {@link CheckpointFiles} reaches: each is written under a hidden temporary name and renamed when
 * complete, so a crash mid-write leaves only a temporary file no reader looks at; the newest
 * {@code keep} are kept, older ones deleted only after a newer one is complete. (Where rename is a
 * copy, as on S3, a crash mid-copy leaves a file that fails its checksum and is skipped.)
 */
public class FileCheckpointStore implements CheckpointStore {
  private static final Pattern NAME = Pattern.compile("ckpt-(\\d{12})\\.bios");

  private final CheckpointFiles files;
  private final int keep;

  public FileCheckpointStore(CheckpointFiles files, int keep) {
    this.files = files;
    this.keep = InvalidSettingException.atLeast("keepCheckpoints", keep, 1);
  }

  /** The file name of the checkpoint for {@code step}. */
  public static String nameFor(long step) {
    return String.format(Locale.ROOT, "ckpt-%012d.bios", step);
  }

  @Override
  public String location() {
    return files.location();
  }

  @Override
  public void write(Checkpoint checkpoint) throws IOException {
    try {
      files.mkdirs();
    } catch (IOException e) {
      throw new IOException("checkpointDir " + location() + " cannot be created: " + e
          + "; point checkpointDir at a writable directory", e);
    }
    String target = nameFor(checkpoint.nextStep());
    String tmp = "." + target + ".tmp-" + UUID.randomUUID();
    try {
      try (OutputStream out = new BufferedOutputStream(files.create(tmp), 1 << 16)) {
        checkpoint.writeTo(out);
      }
      files.rename(tmp, target); // a retried attempt rewrites the same step
    } catch (IOException | RuntimeException e) {
      try {
        files.delete(tmp);
      } catch (IOException cleanup) {
        e.addSuppressed(cleanup);
      }
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException("checkpoint for step " + checkpoint.nextStep() + " could not be written to checkpointDir "
          + location() + ": " + e.getMessage() + "; check that it is writable", e);
    }
    List<Long> steps = steps();
    for (int i = 0; i + keep < steps.size(); i++) {
      files.delete(nameFor(steps.get(i)));
    }
  }

  /** Steps of the complete checkpoints present, oldest first. */
  public List<Long> steps() throws IOException {
    List<Long> steps = new ArrayList<>();
    for (String name : files.list()) {
      Matcher m = NAME.matcher(name);
      if (m.matches()) {
        steps.add(Long.parseLong(m.group(1)));
      }
    }
    steps.sort(null);
    return steps;
  }

  @Override
  public Optional<Checkpoint> read(long step) throws IOException {
    String name = nameFor(step);
    if (!files.exists(name)) {
      return Optional.empty();
    }
    try (InputStream in = new BufferedInputStream(files.open(name), 1 << 16)) {
      return Optional.of(Checkpoint.readFrom(in, files.pathOf(name)));
    }
  }

  @Override
  public Optional<Checkpoint> latest() throws IOException {
    List<Long> steps = steps();
    IOException failures = null;
    for (int i = steps.size() - 1; i >= 0; i--) {
      try {
        Optional<Checkpoint> c = read(steps.get(i));
        if (c.isPresent()) {
          return c;
        }
      } catch (IOException e) {
        if (failures == null) {
          failures = new IOException("no checkpoint in " + location() + " verifies");
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
