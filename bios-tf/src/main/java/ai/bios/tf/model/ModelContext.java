package ai.bios.tf.model;

import ai.bios.tf.InvalidSettingException;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/** What a {@link ModelFunction} builds with: the ops, the features, seeded variables and built-in layers. */
public final class ModelContext {
  /** How a variable's initial values are drawn from the spec's seed. */
  public enum Initializer {
    /** Glorot (Xavier) uniform: fan in = product of all but the last dimension, fan out = ... all but the second last. */
    GLOROT_UNIFORM,
    ZEROS,
    ONES
  }

  private final Ops tf;
  private final ModelSpec spec;
  private final Operand<TFloat32> features;
  private final Layers.Params params;
  private final Layers.Pass pass;
  private int layers;

  /** @param pass the training pass's state, or null while building the inference pass */
  ModelContext(Ops tf, ModelSpec spec, Operand<TFloat32> features, Layers.Params params, Layers.Pass pass) {
    this.tf = tf;
    this.spec = spec;
    this.features = features;
    this.params = params;
    this.pass = pass;
  }

  /**
   * Whether this build is the TRAINING pass. {@link ModelFunction#build} is called twice: once for
   * the inference pass (prediction, evaluation, SavedModel) and once, over the same variables, for
   * the training pass the gradients come from; training-only behaviour goes where this is true.
   */
  public boolean training() {
    return pass != null;
  }

  /**
   * Dropout at {@code rate} in the training pass (the identity in the inference pass): the mask is
   * stateless random numbers from (the run's seed, step, rank, this call's number), so both
   * execution modes, reruns and resumed runs draw the same masks, as the built-in dropout layer does.
   */
  public Operand<TFloat32> dropout(Operand<TFloat32> h, double rate) {
    if (!(rate >= 0 && rate < 1)) {
      throw new InvalidSettingException("model function dropout rate", rate, "must be in [0, 1)");
    }
    return pass == null || rate == 0 ? h : Layers.dropout(tf, h, rate, pass.seed(), pass.dropouts++);
  }

  public Ops tf() {
    return tf;
  }

  /** The features placeholder, shape {@code [batch, ...spec.inputShape()]}. */
  public Operand<TFloat32> features() {
    return features;
  }

  /** Number of values one record's features hold. */
  public int featureSize() {
    return spec.featureSize();
  }

  /** Number of logits the function must return per record. */
  public int outputs() {
    return spec.outputs();
  }

  /** The spec's model function config, "" when none. */
  public String config() {
    return spec.modelConfig();
  }

  /** Columns {@code [from, from + width)} of a flat feature vector, shape {@code [batch, width]}. */
  public Operand<TFloat32> slice(int from, int width) {
    if (spec.inputShape().size() != 1 || from < 0 || width < 1 || from + width > spec.featureSize()) {
      throw new InvalidSettingException("model function slice", "[" + from + ", " + (from + width) + ")",
          "must lie within the " + spec.featureSize() + " features of a flat input " + spec.inputShape());
    }
    return tf.slice(features, tf.constant(new int[] {0, from}), tf.constant(new int[] {-1, width}));
  }

  /**
   * A trainable variable; its initial value is drawn now from the spec's seed (the draws follow
   * call order, so the same calls give the same weights on every worker).
   */
  public Variable<TFloat32> variable(String name, Shape shape, Initializer init) {
    int size = (int) shape.size();
    int rank = shape.numDimensions();
    long fanOut = rank == 0 ? 1 : shape.size() / (rank >= 2 ? shape.size(rank - 2) : 1);
    long fanIn = rank == 0 ? 1 : shape.size() / shape.size(rank - 1);
    return params.trainable(tf.withSubScope("fn"), name, shape, r -> switch (init) {
      case GLOROT_UNIFORM -> TrainableModel.glorotUniform(r, size, fanIn, fanOut);
      case ZEROS -> new float[size];
      case ONES -> ones(size);
    });
  }

  /**
   * The built-in dense layer on {@code h} ({@code [batch, in]}): the same kernel and bias, drawn
   * in the same order, as {@link ModelSpec.Builder#dense}, so a function of dense layers trains
   * bitwise like the equivalent spec.
   */
  public Operand<TFloat32> dense(Operand<TFloat32> h, int units, Activation activation) {
    long in = h.shape().size(h.shape().numDimensions() - 1);
    if (in < 1) {
      throw new InvalidSettingException("model function dense input", h.shape(), "needs a known last dimension");
    }
    return Layers.dense(tf.withSubScope("layer" + layers++), params, h, (int) in, units, activation);
  }

  private static float[] ones(int n) {
    float[] a = new float[n];
    java.util.Arrays.fill(a, 1f);
    return a;
  }

}
