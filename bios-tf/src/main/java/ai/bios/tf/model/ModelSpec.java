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
  private final String modelFunction; // class name of a ModelFunction, null for the layer list
  private final String modelConfig;
  private final int functionOutputs;
  private final transient List<List<Integer>> shapes; // output shape of each layer, derived

  public ModelSpec(List<Integer> inputShape, List<LayerSpec> layers, Loss loss, long seed) {
    this(inputShape, layers, loss, seed, null, null, null);
  }

  /**
   * With {@code modelFunction} (a {@link ModelFunction} class name) the layers must be empty and
   * {@code outputs} gives the logits width; without it {@code modelConfig} and {@code outputs} are null.
   */
  @JsonCreator
  public ModelSpec(
      @JsonProperty("inputShape") List<Integer> inputShape,
      @JsonProperty("layers") List<LayerSpec> layers,
      @JsonProperty("loss") Loss loss,
      @JsonProperty("seed") long seed,
      @JsonProperty("modelFunction") String modelFunction,
      @JsonProperty("modelConfig") String modelConfig,
      @JsonProperty("outputs") Integer outputs) {
    if (inputShape == null || inputShape.isEmpty() || inputShape.size() == 2 || inputShape.size() > 3) {
      throw new InvalidSettingException(
          "model.inputShape", inputShape, "must be [features] or [height, width, channels]");
    }
    for (Integer d : inputShape) {
      if (d == null || d < 1) {
        throw new InvalidSettingException("model.inputShape", inputShape, "must have dimensions >= 1");
      }
    }
    this.loss = Objects.requireNonNull(loss, "model.loss");
    this.seed = seed;
    this.inputShape = List.copyOf(inputShape);
    this.modelFunction = modelFunction;
    this.modelConfig = modelConfig == null ? "" : modelConfig;
    if (modelFunction != null) {
      if (layers != null && !layers.isEmpty()) {
        throw new InvalidSettingException("model.layers", layers,
            "must be empty with a model function (" + modelFunction + "): build every layer in the function");
      }
      if (outputs == null || outputs < 1) {
        throw new InvalidSettingException("model.outputs", outputs,
            "must be >= 1 with a model function (" + modelFunction + "): set ModelSpec.Builder.outputs(width of its logits)");
      }
      this.layers = List.of();
      this.functionOutputs = outputs;
      this.shapes = List.of(List.of(outputs));
      newModelFunction(); // a bad class name fails here, on the driver
      return;
    }
    if (layers == null || layers.isEmpty()) {
      throw new InvalidSettingException("model.layers", layers, "must hold at least one layer");
    }
    this.layers = List.copyOf(layers);
    this.functionOutputs = 0;
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

  /** Class name of the {@link ModelFunction} that builds the network, null when the layers do. */
  @JsonProperty
  @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
  public String modelFunction() {
    return modelFunction;
  }

  /** The model function's config string, "" when none. */
  @JsonProperty
  @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_EMPTY)
  public String modelConfig() {
    return modelConfig;
  }

  @JsonProperty("outputs")
  @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
  Integer jsonOutputs() {
    return modelFunction == null ? null : functionOutputs;
  }

  /**
   * A new instance of the model function, loaded by the thread context class loader (the
   * application's jars on executors).
   */
  ModelFunction newModelFunction() {
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    if (loader == null) {
      loader = ModelSpec.class.getClassLoader();
    }
    Class<?> c;
    try {
      c = Class.forName(modelFunction, true, loader);
    } catch (ClassNotFoundException | LinkageError e) {
      throw new InvalidSettingException("model.modelFunction", modelFunction,
          "is not a class on the classpath (" + e + "): give the fully qualified name of a public class "
              + "and ship its jar with the application (spark.jars / --jars)");
    }
    if (!ModelFunction.class.isAssignableFrom(c)) {
      throw new InvalidSettingException("model.modelFunction", modelFunction,
          "does not implement " + ModelFunction.class.getName() + ": implement it");
    }
    try {
      return (ModelFunction) c.getConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new InvalidSettingException("model.modelFunction", modelFunction,
          "could not be constructed (" + e + "): it must be a public class (top-level or static nested) "
              + "with a public no-arg constructor; lambdas are not supported");
    }
  }

  /** Number of values in one record's features (product of the input shape). */
  public int featureSize() {
    return inputShape.stream().reduce(1, (a, b) -> a * b);
  }

  /** Number of model outputs: the units of the last dense layer. */
  public int outputs() {
    if (modelFunction != null) {
      return functionOutputs;
    }
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
    return !layers.isEmpty() && layers.get(0) instanceof LayerSpec.FeatureColumns f ? f.columns() : List.of();
  }

  /** A copy with another seed. */
  public ModelSpec withSeed(long newSeed) {
    return new ModelSpec(inputShape, layers, loss, newSeed, modelFunction, modelConfig, jsonOutputs());
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
        && seed == m.seed
        && Objects.equals(modelFunction, m.modelFunction)
        && modelConfig.equals(m.modelConfig)
        && functionOutputs == m.functionOutputs;
  }

  @Override
  public int hashCode() {
    return Objects.hash(inputShape, layers, loss, seed, modelFunction, modelConfig, functionOutputs);
  }

  @Override
  public String toString() {
    return toJson();
  }

  private Object readResolve() {
    return new ModelSpec(inputShape, layers, loss, seed, modelFunction, modelConfig, jsonOutputs()); // re-derive shapes and re-validate
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
    private String modelFunction;
    private String modelConfig;
    private Integer outputs;

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

    /**
     * Build the network with your own {@link ModelFunction} instead of layers: {@code function}
     * is a public class with a public no-arg constructor (lambdas are not supported), stored by
     * name; {@code outputs} is the width of the logits it returns.
     */
    public Builder modelFunction(Class<? extends ModelFunction> function, int outputs) {
      return modelFunction(function.getName(), outputs, null);
    }

    /** As {@link #modelFunction(Class, int)} by class name, with a config string the function reads. */
    public Builder modelFunction(String className, int outputs, String config) {
      this.modelFunction = className;
      this.outputs = outputs;
      this.modelConfig = config;
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
      return new ModelSpec(inputShape, layers, loss, seed, modelFunction, modelConfig, outputs);
    }
  }
}
