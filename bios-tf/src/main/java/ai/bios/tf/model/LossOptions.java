package ai.bios.tf.model;

import ai.bios.tf.InvalidSettingException;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * How a run weighs its records' losses: per-record sample weights (fed with each batch), a weight
 * per class, and label smoothing. These change the training loss, not the model: predictions and
 * exported models do not depend on them, which is why they are a training setting passed to
 * {@link TrainableModel} beside the {@link ModelSpec} rather than a part of it.
 *
 * <p>With sample or class weights each record's loss is multiplied by its weight {@code w = sample
 * weight × class weight}; the gradient step divides the loss sum by the global sum of those weights
 * (instead of the record count), so integer weights equal duplicating records and weight 0 equals
 * dropping one. Label smoothing {@code e} trains softmax on {@code (1 - e)·onehot + e/K} and sigmoid
 * on {@code y·(1 - e) + e/2}. {@link #NONE} leaves the loss exactly (bitwise) as without options.
 *
 * @param sampleWeights whether every record carries a weight (a weight column)
 * @param classWeights one weight per class (softmax: one per output; sigmoid with one output:
 *     {@code negative, positive}), or null
 * @param labelSmoothing in {@code [0, 1)}
 */
public record LossOptions(boolean sampleWeights, float[] classWeights, double labelSmoothing)
    implements Serializable {

  /** Unweighted, unsmoothed. */
  public static final LossOptions NONE = new LossOptions(false, null, 0.0);

  public LossOptions {
    if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
      throw new InvalidSettingException("labelSmoothing", labelSmoothing,
          "must be in [0, 1): 0 turns smoothing off, 0.1 is a common choice");
    }
    if (classWeights != null) {
      classWeights = classWeights.clone();
      for (float w : classWeights) {
        if (!Float.isFinite(w) || w < 0) {
          throw new InvalidSettingException("classWeights", format(classWeights),
              "every class weight must be a finite number >= 0, e.g. \"1.0,3.0\"");
        }
      }
    }
  }

  /**
   * Parses {@code "1.0,3.0"} (empty or null: no class weights).
   *
   * @throws InvalidSettingException naming {@code classWeights} when a value is not a number
   */
  public static float[] parseClassWeights(String text) {
    if (text == null || text.isBlank()) {
      return null;
    }
    String[] parts = text.split(",");
    float[] out = new float[parts.length];
    for (int i = 0; i < parts.length; i++) {
      try {
        out[i] = Float.parseFloat(parts[i].trim());
      } catch (NumberFormatException e) {
        throw new InvalidSettingException("classWeights", text,
            "give one number per class separated by commas, e.g. \"1.0,3.0\" ('" + parts[i].trim()
                + "' is not a number)");
      }
    }
    return out;
  }

  /** Whether records have weights other than 1: sample or class weights. */
  public boolean weighted() {
    return sampleWeights || classWeights != null;
  }

  /** Throws unless these options fit {@code spec}'s loss and outputs. */
  public void requireFits(ModelSpec spec) {
    if (classWeights != null) {
      int want = spec.loss() == Loss.SOFTMAX_CROSS_ENTROPY ? spec.outputs()
          : spec.loss() == Loss.SIGMOID_CROSS_ENTROPY && spec.outputs() == 1 ? 2 : -1;
      if (want < 0) {
        throw new InvalidSettingException("classWeights", format(classWeights),
            "class weights need a classifier: softmax cross-entropy (one weight per class) or sigmoid "
                + "cross-entropy with one output (\"negative,positive\"); this model's loss is " + spec.loss()
                + " with " + spec.outputs() + " output(s), so drop classWeights or use a weight column");
      }
      if (classWeights.length != want) {
        throw new InvalidSettingException("classWeights", format(classWeights),
            "has " + classWeights.length + " weights, the model has " + want + " classes"
                + (want == 2 && spec.loss() == Loss.SIGMOID_CROSS_ENTROPY ? " (sigmoid: \"negative,positive\")"
                    : " (one weight per output of the last layer)"));
      }
    }
    if (labelSmoothing > 0 && spec.loss() == Loss.MEAN_SQUARED_ERROR) {
      throw new InvalidSettingException("labelSmoothing", labelSmoothing,
          "label smoothing applies to cross-entropy losses; this model's loss is squared error, so set it to 0");
    }
  }

  /** A stable text for run identities: equal options, equal text. */
  public String describe() {
    return "sampleWeights=" + sampleWeights + ", classWeights=" + (classWeights == null ? "none" : format(classWeights))
        + ", labelSmoothing=" + labelSmoothing;
  }

  /**
   * The training identity of {@code optimizer} with these loss settings, as a checkpoint's
   * {@code RunIdentity} records it: just {@code optimizer} for {@link #NONE} (so checkpoints of runs
   * without loss settings keep their identity), else with the settings appended, so a run refuses to
   * resume a checkpoint trained under other loss settings.
   */
  public String identityWith(String optimizer) {
    return equals(NONE) ? optimizer : optimizer + " with loss " + describe();
  }

  private static String format(float[] w) {
    return IntStream.range(0, w.length).mapToObj(i -> String.format(Locale.ROOT, "%s", w[i]))
        .collect(Collectors.joining(","));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LossOptions l && l.sampleWeights == sampleWeights
        && Arrays.equals(l.classWeights, classWeights) && Double.compare(l.labelSmoothing, labelSmoothing) == 0;
  }

  @Override
  public int hashCode() {
    return Boolean.hashCode(sampleWeights) * 31 * 31 + Arrays.hashCode(classWeights) * 31
        + Double.hashCode(labelSmoothing);
  }

  @Override
  public float[] classWeights() {
    return classWeights == null ? null : classWeights.clone();
  }

  @Override
  public String toString() {
    return "LossOptions[" + describe() + "]";
  }
}
