package ai.bios.tf.model;

/**
 * The training loss. Each defines what a label is, how many label values a record carries, and
 * what {@code predict} returns.
 */
public enum Loss {
  /**
   * Softmax cross-entropy over {@code outputs} classes. A label is one class index in
   * {@code [0, outputs)}, fed one-hot (TF Java has no gradient for the sparse op). Prediction: class
   * probabilities.
   */
  SOFTMAX_CROSS_ENTROPY,
  /**
   * Sigmoid cross-entropy per output (binary or multi-label). A label is {@code outputs} values,
   * each 0 or 1. Prediction: per-output probabilities.
   */
  SIGMOID_CROSS_ENTROPY,
  /**
   * Mean squared error over the outputs (regression). A label is {@code outputs} finite targets.
   * Prediction: the outputs.
   */
  MEAN_SQUARED_ERROR;

  /** How many label values one record carries for a model with {@code outputs} outputs. */
  public int labelWidth(int outputs) {
    return this == SOFTMAX_CROSS_ENTROPY ? 1 : outputs;
  }
}
