package ai.bios.tf.exec;

import ai.bios.tf.InvalidSettingException;
import java.util.Locale;

/** What early stopping watches; each implies its direction. */
public enum ValidationMetric {
  /** Mean loss over the validation records: lower is better. */
  VAL_LOSS(false),
  /** Share of validation records classified right: higher is better. */
  VAL_ACCURACY(true),
  /** Area under the ROC curve of a binary classifier on the validation records: higher is better. */
  VAL_AUC(true);

  private final boolean higherIsBetter;

  ValidationMetric(boolean higherIsBetter) {
    this.higherIsBetter = higherIsBetter;
  }

  public boolean higherIsBetter() {
    return higherIsBetter;
  }

  /** The metric's value in {@code m} (NaN when the run has no such number). */
  public double of(EpochMetrics m) {
    return switch (this) {
      case VAL_LOSS -> m.valLoss();
      case VAL_ACCURACY -> m.valAccuracy();
      case VAL_AUC -> m.valAuc();
    };
  }

  /** The name users write: {@code val_loss}, {@code val_accuracy}, {@code val_auc}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses a metric name, any case; a bad one fails naming {@code earlyStoppingMetric}. */
  public static ValidationMetric parse(String name) {
    if (name != null) {
      for (ValidationMetric m : values()) {
        if (m.label().equals(name.trim().toLowerCase(Locale.ROOT))) {
          return m;
        }
      }
    }
    throw new InvalidSettingException("earlyStoppingMetric", name == null ? null : "\"" + name + "\"",
        "must be val_loss, val_accuracy or val_auc");
  }
}
