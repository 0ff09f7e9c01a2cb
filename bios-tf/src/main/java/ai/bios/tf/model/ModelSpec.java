package ai.bios.tf.model;

import ai.bios.tf.InvalidSettingException;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What network to train: input shape per record, layers, loss and the seed of its initial weights.
 * Immutable, validated at construction, and serialisable to JSON (it travels to executors and into
 * saved models and checkpoints).
 *
 * <pre>{@code
 * ModelSpec mlp = ModelSpec.builder(14)
 *     .dense(64, Activation.RELU)
 *     .dense(2, Activation.NONE)
 *     .loss(Loss.SOFTMAX_CROSS_ENTROPY)
 *     .seed(7)
 *     .build();
 *
 * // Tabular data assembled into one vector: numeric columns pass through, category ids (from
 * // StringIndexer) are embedded, then normalised, regularised layers.
 * ModelSpec tabular = ModelSpec.builder(4)
 *     .featureColumns(LayerSpec.numeric("age", 0, 1), LayerSpec.numeric("hours", 1, 1),
 *         LayerSpec.categorical("workclass", 2, 9, 4), LayerSpec.categorical("sex", 3, 3, 2))
 *     .dense(32, Activation.RELU).batchNorm().dropout(0.2)
 *     .residual(new LayerSpec.Dense(32, Activation.RELU), new LayerSpec.LayerNorm())
 *     .dense(2, Activation.NONE)
 *     .build();
 * }</pre>
 */
public final class ModelSpec implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private final List<Integer> inputShape;
  private final List<LayerSpec> layers;
  private final Loss loss;
  private final long seed;
  private final transient List<List<Integer>> shapes; // output shape of each layer, derived

  @JsonCreator
  public ModelSpec(
      @JsonProperty("inputShape") List<Integer> inputShape,
      @JsonProperty("layers") List<LayerSpec> layers,
      @JsonProperty("loss") Loss loss,
      @JsonProperty("seed") long seed) {
    if (inputShape == null || inputShape.isEmpty() || inputShape.size() == 2 || inputShape.size() > 3) {
      throw new InvalidSettingException(
          "model.inputShape", inputShape, "must be [features] or [height, width, channels]");
    }
    for (Integer d : inputShape) {
      if (d == null || d < 1) {
        throw new InvalidSettingException("model.inputShape", inputShape, "must have dimensions >= 1");
      }
    }
    if (layers == null || layers.isEmpty()) {
      throw new InvalidSettingException("model.layers", layers, "must hold at least one layer");
    }
    this.inputShape = List.copyOf(inputShape);
    this.layers = List.copyOf(layers);
    this.loss = Objects.requireNonNull(loss, "model.loss");
    this.seed = seed;
    this.shapes = Shapes.infer(this.inputShape, this.layers, "model.layers");
    if (!(this.layers.get(this.layers.size() - 1) instanceof LayerSpec.Dense)) {
      throw new InvalidSettingException(
          "model.layers", describe(this.layers.get(this.layers.size() - 1)),
          "must end with a dense layer (its units are the model's outputs); add flatten() and dense(...)");
    }
  }

  public static Builder builder(int... inputShape) {
    return new Builder(inputShape);
  }

  @JsonProperty
  public List<Integer> inputShape() {
    return inputShape;
  }

  @JsonProperty
  public List<LayerSpec> layers() {
    return layers;
  }

  @JsonProperty
  public Loss loss() {
    return loss;
  }

  @JsonProperty
  public long seed() {
    return seed;
  }

  /** Number of values in one record's features (product of the input shape). */
  public int featureSize() {
    return inputShape.stream().reduce(1, (a, b) -> a * b);
  }

  /** Number of model outputs: the units of the last dense layer. */
  public int outputs() {
    return shapes.get(shapes.size() - 1).get(0);
  }

  /** Number of label values one record carries (1 class index for softmax, else {@link #outputs()}). */
  public int labelWidth() {
    return loss.labelWidth(outputs());
  }

  /** Output shape (per record) of layer {@code i}. */
  List<Integer> outputShape(int i) {
    return shapes.get(i);
  }

  /**
   * The columns of the first layer when it is {@link LayerSpec.FeatureColumns}, else empty: the
   * record checks use them to refuse category ids a column cannot look up.
   */
  public List<LayerSpec.Column> featureColumns() {
    return layers.get(0) instanceof LayerSpec.FeatureColumns f ? f.columns() : List.of();
  }

  /** A copy with another seed. */
  public ModelSpec withSeed(long newSeed) {
    return new ModelSpec(inputShape, layers, loss, newSeed);
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("ModelSpec could not be written as JSON", e);
    }
  }

  public static ModelSpec fromJson(String json) {
    try {
      return JSON.readValue(json, ModelSpec.class);
    } catch (JsonProcessingException e) {
      throw new InvalidSettingException("model spec JSON", json, "is not a valid model spec: " + e.getOriginalMessage());
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ModelSpec m
        && inputShape.equals(m.inputShape)
        && layers.equals(m.layers)
        && loss == m.loss
        && seed == m.seed;
  }

  @Override
  public int hashCode() {
    return Objects.hash(inputShape, layers, loss, seed);
  }

  @Override
  public String toString() {
    return toJson();
  }

  private Object readResolve() {
    return new ModelSpec(inputShape, layers, loss, seed); // re-derive shapes and re-validate
  }

  private static String describe(LayerSpec layer) {
    return layer.toString();
  }

  /** Fluent construction of a {@link ModelSpec}. */
  public static final class Builder {
    private final List<Integer> inputShape = new ArrayList<>();
    private final List<LayerSpec> layers = new ArrayList<>();
    private Loss loss = Loss.SOFTMAX_CROSS_ENTROPY;
    private long seed = 1L;

    private Builder(int... inputShape) {
      for (int d : inputShape) {
        this.inputShape.add(d);
      }
    }

    public Builder dense(int units, Activation activation) {
      layers.add(new LayerSpec.Dense(units, activation));
      return this;
    }

    public Builder conv2d(int filters, int kernel, int stride, LayerSpec.Padding padding, Activation activation) {
      layers.add(new LayerSpec.Conv2D(filters, kernel, stride, padding, activation));
      return this;
    }

    public Builder maxPool(int size, int stride) {
      layers.add(new LayerSpec.Pool(LayerSpec.PoolKind.MAX, size, stride, LayerSpec.Padding.VALID));
      return this;
    }

    public Builder avgPool(int size, int stride) {
      layers.add(new LayerSpec.Pool(LayerSpec.PoolKind.AVG, size, stride, LayerSpec.Padding.VALID));
      return this;
    }

    public Builder flatten() {
      layers.add(new LayerSpec.Flatten());
      return this;
    }

    /**
     * Named columns over the feature vector (must be the first layer): {@link LayerSpec#numeric},
     * {@link LayerSpec#categorical}, {@link LayerSpec#sequence}.
     */
    public Builder featureColumns(LayerSpec.Column... columns) {
      layers.add(new LayerSpec.FeatureColumns(List.of(columns)));
      return this;
    }

    public Builder layerNorm() {
      layers.add(new LayerSpec.LayerNorm());
      return this;
    }

    /** Dropout of {@code rate} of the values while training. */
    public Builder dropout(double rate) {
      layers.add(new LayerSpec.Dropout(rate));
      return this;
    }

    /** Batch normalisation with moving-statistics momentum 0.99. */
    public Builder batchNorm() {
      return batchNorm(0.99);
    }

    public Builder batchNorm(double momentum) {
      layers.add(new LayerSpec.BatchNorm(momentum));
      return this;
    }

    /** A residual block: {@code x + inner(x)}. */
    public Builder residual(LayerSpec... inner) {
      layers.add(new LayerSpec.Residual(List.of(inner)));
      return this;
    }

    public Builder globalAvgPool() {
      layers.add(new LayerSpec.GlobalAvgPool());
      return this;
    }

    public Builder conv1d(int filters, int kernel, int stride, LayerSpec.Padding padding, Activation activation) {
      layers.add(new LayerSpec.Conv1D(filters, kernel, stride, padding, activation));
      return this;
    }

    /** Default: softmax cross-entropy. */
    public Builder loss(Loss loss) {
      this.loss = loss;
      return this;
    }

    /** Seed of the initial weights. Default: 1. */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    public ModelSpec build() {
      return new ModelSpec(inputShape, layers, loss, seed);
    }
  }
}
