package ai.bios.tf.model;

import org.tensorflow.types.TFloat32;

/**
 * What one step feeds the model: features and labels of {@link #size()} records, shaped as the
 * model's {@link ModelSpec} says. The caller owns the tensors ({@code ai.bios.tf.input.Batch} is
 * the engine's implementation); the model only reads them during the call it is given to.
 */
public interface Feed {
  /** Features, shape {@code [size, input shape...]}. */
  TFloat32 features();

  /** Labels, shape {@code [size, label width]}. */
  TFloat32 labels();

  /** Records in this feed (0: an empty feed, for a worker that has run out this step). */
  int size();

  /**
   * Each record's sample weight, shape {@code [size]}, or null when records carry no weights. A
   * model trained with {@link LossOptions#sampleWeights()} needs them.
   */
  default TFloat32 weights() {
    return null;
  }
}
