package ai.bios.tf.input;

/**
 * Where a {@link RecordSource} writes one record. Values are validated as they are written (length,
 * finite, label range) and copied once, into the batch's native tensor.
 */
public interface RecordWriter {

  /** The record's features, flattened in row-major (NHWC for images) order. */
  default void features(float[] values) {
    features(values, 0, values == null ? -1 : values.length);
  }

  /** The record's features: {@code values[offset, offset + length)}. */
  void features(float[] values, int offset, int length);

  /** The record's features from doubles (for example an MLlib vector's values). */
  void features(double[] values);

  /**
   * The record's label: a class index for softmax cross-entropy, or the single target of a model
   * with one output.
   */
  void label(double value);

  /** The record's label values (one per output for sigmoid cross-entropy and squared error). */
  default void labels(float[] values) {
    labels(values, 0, values == null ? -1 : values.length);
  }

  /** The record's label values: {@code values[offset, offset + length)}. */
  void labels(float[] values, int offset, int length);

  /**
   * The record's sample weight (finite, >= 0), which multiplies its loss when the run trains with
   * sample weights ({@code LossOptions.sampleWeights}); a record that writes none weighs 1. Ignored
   * by an unweighted batch.
   */
  default void weight(double value) {}
}
