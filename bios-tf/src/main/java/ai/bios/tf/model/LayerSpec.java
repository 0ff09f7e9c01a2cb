package ai.bios.tf.model;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * One layer of a {@link ModelSpec}. Layers are plain values; {@link TrainableModel} turns them into
 * graph operations. Images are NHWC ({@code [height, width, channels]} per record).
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = LayerSpec.Dense.class, name = "dense"),
  @JsonSubTypes.Type(value = LayerSpec.Conv2D.class, name = "conv2d"),
  @JsonSubTypes.Type(value = LayerSpec.Pool.class, name = "pool"),
  @JsonSubTypes.Type(value = LayerSpec.Flatten.class, name = "flatten")
})
public sealed interface LayerSpec extends java.io.Serializable {

  /** Fully connected: {@code activation(x W + b)}. Input must be rank 1 per record. */
  record Dense(int units, Activation activation) implements LayerSpec {}

  /**
   * 2-D convolution with a square {@code kernel}, {@code stride} and {@code SAME} or {@code VALID}
   * padding, then bias and activation. Input must be {@code [h, w, c]} per record.
   */
  record Conv2D(int filters, int kernel, int stride, Padding padding, Activation activation)
      implements LayerSpec {}

  /** Max or average pooling over square windows. */
  record Pool(PoolKind kind, int size, int stride, Padding padding) implements LayerSpec {}

  /** Flattens {@code [h, w, c]} into {@code [h * w * c]}. */
  record Flatten() implements LayerSpec {}

  /** Convolution and pooling padding, as TensorFlow defines it. */
  enum Padding {
    SAME,
    VALID
  }

  /** Pooling reduction. */
  enum PoolKind {
    MAX,
    AVG
  }
}
