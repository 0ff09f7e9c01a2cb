package ai.bios.tf.exec;

import ai.bios.tf.InvalidSettingException;
import java.io.Serializable;
import java.util.Objects;

/**
 * When to stop training before the last epoch: after {@code patience} epochs in a row in which
 * {@code metric} did not improve on its best by more than {@code minDelta}; the weights of the best
 * epoch are restored at the end. Immutable and validated when built, naming the setting.
 *
 * @param metric what to watch (its direction is implied: loss down, accuracy and AUC up)
 * @param patience epochs without improvement before stopping; 0 turns early stopping off
 * @param minDelta the least change that counts as an improvement, >= 0
 */
public record EarlyStopping(ValidationMetric metric, int patience, double minDelta) implements Serializable {

  /** No early stopping. */
  public static final EarlyStopping OFF = new EarlyStopping(ValidationMetric.VAL_LOSS, 0, 0);

  public EarlyStopping {
    Objects.requireNonNull(metric, "earlyStoppingMetric");
    InvalidSettingException.atLeast("earlyStoppingPatience", patience, 0);
    if (!(minDelta >= 0) || Double.isInfinite(minDelta)) {
      throw new InvalidSettingException("earlyStoppingMinDelta", minDelta, "must be a finite number >= 0");
    }
  }

  public boolean enabled() {
    return patience > 0;
  }

  @Override
  public String toString() {
    return enabled() ? "EarlyStopping{metric=" + metric.label() + ", patience=" + patience + ", minDelta=" + minDelta + "}"
        : "EarlyStopping{off}";
  }
}
