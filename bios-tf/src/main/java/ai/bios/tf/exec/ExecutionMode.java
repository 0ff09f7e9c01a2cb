package ai.bios.tf.exec;

import ai.bios.tf.InvalidSettingException;
import java.util.Locale;

/** How a training step is scheduled. The maths is identical; only the schedule differs. */
public enum ExecutionMode {
  /**
   * One stage after another on one thread: prepare the batch, compute gradients, aggregate, apply,
   * read the loss and report, write the checkpoint when due. Easy to reason about and to debug.
   */
  SIMPLE,
  /**
   * The device never waits: a feeder thread keeps {@code prefetchDepth} batches ready, reporting
   * and checkpoint writes happen in the background (a checkpoint is snapshotted in memory first, at
   * most one write in flight), and aggregation moves its buffer in overlapping chunks.
   */
  EFFICIENT;

  /** {@code simple} or {@code efficient}, any case. */
  public static ExecutionMode parse(String value) {
    String v = value == null ? "" : value.trim().toUpperCase(Locale.ROOT);
    try {
      return valueOf(v);
    } catch (IllegalArgumentException e) {
      throw new InvalidSettingException("executionMode", "\"" + value + "\"", "must be simple or efficient");
    }
  }
}
