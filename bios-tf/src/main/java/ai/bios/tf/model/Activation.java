package ai.bios.tf.model;

/** Element-wise activation after a dense or convolution layer. */
public enum Activation {
  RELU,
  TANH,
  SIGMOID,
  /** Identity: the layer's output is its affine transform. */
  NONE
}
