package ai.bios.tf.exec;

import ai.bios.tf.InvalidSettingException;
import java.io.Serializable;
import java.util.Locale;

/**
 * How much work the user queues ahead: a fixed number of batches, or {@code auto}, which grows the
 * queue while the training loop still waits for input and the memory budget allows.
 */
public record PrefetchDepth(int batches, boolean automatic) implements Serializable {

  public PrefetchDepth {
    if (!automatic) {
      InvalidSettingException.atLeast("prefetchDepth", batches, 1);
    }
  }

  public static PrefetchDepth of(int batches) {
    return new PrefetchDepth(batches, false);
  }

  public static PrefetchDepth auto() {
    return new PrefetchDepth(0, true);
  }

  /** {@code auto} or a whole number >= 1. */
  public static PrefetchDepth parse(String value) {
    String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
    if (v.equals("auto")) {
      return auto();
    }
    try {
      return of(Integer.parseInt(v));
    } catch (NumberFormatException e) {
      throw new InvalidSettingException("prefetchDepth", "\"" + value + "\"", "must be auto or a whole number >= 1");
    }
  }

  @Override
  public String toString() {
    return automatic ? "auto" : Integer.toString(batches);
  }
}
