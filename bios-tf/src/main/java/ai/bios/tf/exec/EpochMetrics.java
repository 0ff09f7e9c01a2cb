package ai.bios.tf.exec;

import java.io.Serializable;

/**
 * One finished epoch, as every worker of the run computed it from the same all-reduced sums (the
 * numbers are bitwise equal on every worker, in both schedules, and after a resume; only {@code
 * seconds} is a measurement).
 *
 * @param epoch the epoch, 0-based
 * @param trainLoss mean training loss over the epoch's samples on all workers (each step's loss
 *     taken at the weights before its update)
 * @param records training samples the epoch used on all workers
 * @param valLoss mean loss over the validation records at the weights after the epoch, or NaN
 *     without validation records
 * @param valAccuracy share of validation records classified right, or NaN (no validation records,
 *     or a regression model)
 * @param valAuc area under the ROC curve on the validation records (binary classifiers: a 2-class
 *     softmax or a 1-output sigmoid), from a histogram of {@link Validation#BINS} score bins, so
 *     within the share of positive-negative pairs that share a bin of the exact value; NaN otherwise
 *     or when the validation records hold one class only
 * @param validationRecords validation records on all workers
 * @param learningRate the optimizer's learning rate during the epoch
 * @param seconds wall time of the epoch, its validation included
 */
public record EpochMetrics(
    int epoch, double trainLoss, long records, double valLoss, double valAccuracy, double valAuc,
    long validationRecords, double learningRate, double seconds) implements Serializable {

  /** The same epoch without the one measured field, for comparing runs. */
  public EpochMetrics withoutTime() {
    return new EpochMetrics(epoch, trainLoss, records, valLoss, valAccuracy, valAuc, validationRecords,
        learningRate, 0);
  }
}
