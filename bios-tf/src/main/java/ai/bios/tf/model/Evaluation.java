package ai.bios.tf.model;

/**
 * One batch evaluated at the current weights, without gradients ({@link TrainableModel#evaluate}).
 *
 * @param lossSum the batch's loss sum (the training loss, summed over its records)
 * @param count records in the batch
 * @param correct records the model gets right: the arg-max class equals the label (softmax), every
 *     output on the label's side of 0.5 (sigmoid); -1 when accuracy is undefined (squared error)
 * @param scores for a binary classifier (2-class softmax or 1-output sigmoid): each record's
 *     positive-class probability; otherwise null
 * @param positives for a binary classifier: whether each record's label is the positive class;
 *     otherwise null
 * @param weightSum the sum of the records' loss weights ({@link LossOptions}): the loss's divisor;
 *     {@code count} when the run has no weights
 */
public record Evaluation(double lossSum, int count, long correct, float[] scores, boolean[] positives,
    double weightSum) {

  /** An unweighted evaluation: the weight sum is the count. */
  public Evaluation(double lossSum, int count, long correct, float[] scores, boolean[] positives) {
    this(lossSum, count, correct, scores, positives, count);
  }

  /** Whether {@code spec} is a binary classifier: a 2-class softmax or a 1-output sigmoid. */
  public static boolean binaryClassifier(ModelSpec spec) {
    return spec.outputs() == 1 ? spec.loss() == Loss.SIGMOID_CROSS_ENTROPY
        : spec.outputs() == 2 && spec.loss() == Loss.SOFTMAX_CROSS_ENTROPY;
  }

  /** Whether {@link #scores} and {@link #positives} are there (a binary classifier). */
  public boolean binary() {
    return scores != null;
  }
}
