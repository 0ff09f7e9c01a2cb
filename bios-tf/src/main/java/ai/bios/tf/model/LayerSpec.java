package ai.bios.tf.model;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;

/**
 * One layer of a {@link ModelSpec}. Layers are plain values; {@link TrainableModel} turns them into
 * graph operations. Images are NHWC ({@code [height, width, channels]} per record); sequences are
 * {@code [length, channels]} per record.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = LayerSpec.Dense.class, name = "dense"),
  @JsonSubTypes.Type(value = LayerSpec.Conv2D.class, name = "conv2d"),
  @JsonSubTypes.Type(value = LayerSpec.Pool.class, name = "pool"),
  @JsonSubTypes.Type(value = LayerSpec.Flatten.class, name = "flatten"),
  @JsonSubTypes.Type(value = LayerSpec.FeatureColumns.class, name = "featureColumns"),
  @JsonSubTypes.Type(value = LayerSpec.LayerNorm.class, name = "layerNorm"),
  @JsonSubTypes.Type(value = LayerSpec.Dropout.class, name = "dropout"),
  @JsonSubTypes.Type(value = LayerSpec.BatchNorm.class, name = "batchNorm"),
  @JsonSubTypes.Type(value = LayerSpec.Residual.class, name = "residual"),
  @JsonSubTypes.Type(value = LayerSpec.GlobalAvgPool.class, name = "globalAvgPool"),
  @JsonSubTypes.Type(value = LayerSpec.Conv1D.class, name = "conv1d")
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

  /** Flattens {@code [h, w, c]} (or {@code [length, channels]}) into one vector. */
  record Flatten() implements LayerSpec {}

  /**
   * Named columns over slices of the flat feature vector, like Keras' {@code DenseFeatures}: the
   * first layer of a model whose input is {@code [features]}. Numeric columns pass their values
   * through, categorical columns look their id up in a trainable embedding table, and the outputs
   * are concatenated in the declared order. The columns must cover every feature exactly once.
   * A {@link Sequence} column (token ids embedded to {@code [length, dim]}) must be the only column.
   */
  record FeatureColumns(List<Column> columns) implements LayerSpec {
    public FeatureColumns {
      columns = columns == null ? null : List.copyOf(columns);
    }
  }

  /** Normalises each record over its last axis, then scales by a trainable gain and adds a bias. */
  record LayerNorm() implements LayerSpec {}

  /**
   * Zeroes each value with probability {@code rate} (and scales the rest by {@code 1/(1-rate)})
   * while computing gradients; the identity in prediction, evaluation and exported models. The
   * mask is a pure function of (model seed, step, worker rank).
   */
  record Dropout(double rate) implements LayerSpec {}

  /**
   * Batch normalisation over the last axis (channels): training normalises with the batch's
   * moments; prediction with moving statistics updated each step with {@code momentum}, from the
   * moments of the GLOBAL batch (summed across workers), so every worker holds the same ones.
   * Each worker normalises with its own share of the batch (as Keras does without synchronised
   * batch norm), so with batch norm N workers follow one worker with the same global batch only
   * approximately (invariant 2 of docs/architecture.md holds for the moving statistics alone).
   */
  record BatchNorm(double momentum) implements LayerSpec {}

  /** Inner layers whose output is added to the block's input; the shapes must match. */
  record Residual(List<LayerSpec> layers) implements LayerSpec {
    public Residual {
      layers = layers == null ? null : List.copyOf(layers);
    }
  }

  /** Mean over height and width of an image ({@code [h, w, c] -> [c]}) or over a sequence's time axis. */
  record GlobalAvgPool() implements LayerSpec {}

  /**
   * 1-D convolution over a sequence {@code [length, channels]} with a {@code kernel} wide window,
   * then bias and activation: {@code [length', filters]}.
   */
  record Conv1D(int filters, int kernel, int stride, Padding padding, Activation activation)
      implements LayerSpec {}

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

  /** A column of {@link FeatureColumns}: a named slice of the feature vector. */
  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "kind")
  @JsonSubTypes({
    @JsonSubTypes.Type(value = Numeric.class, name = "numeric"),
    @JsonSubTypes.Type(value = Categorical.class, name = "categorical"),
    @JsonSubTypes.Type(value = Sequence.class, name = "sequence")
  })
  sealed interface Column extends java.io.Serializable {
    String name();

    /** First feature this column reads. */
    int first();

    /** Number of features this column reads. */
    int width();
  }

  /** Features {@code [from, from + size)}, passed through. */
  record Numeric(String name, int from, int size) implements Column {
    public int first() {
      return from;
    }

    public int width() {
      return size;
    }
  }

  /**
   * Feature {@code index} holds a category id, a whole number in {@code [0, cardinality)}, looked up
   * in a trainable {@code [cardinality, embeddingDim]} table. For a column indexed by Spark's
   * {@code StringIndexer} with {@code handleInvalid="keep"}, count the extra "unseen" bucket: the
   * cardinality is the number of labels + 1.
   */
  record Categorical(String name, int index, int cardinality, int embeddingDim) implements Column {
    public int first() {
      return index;
    }

    public int width() {
      return 1;
    }
  }

  /**
   * Features {@code [from, from + length)} hold a sequence of token ids, each in {@code [0,
   * cardinality)}, embedded to {@code [length, embeddingDim]} (input of {@link Conv1D} and
   * sequence pooling).
   */
  record Sequence(String name, int from, int length, int cardinality, int embeddingDim) implements Column {
    public int first() {
      return from;
    }

    public int width() {
      return length;
    }
  }

  static Numeric numeric(String name, int from, int size) {
    return new Numeric(name, from, size);
  }

  static Categorical categorical(String name, int index, int cardinality, int embeddingDim) {
    return new Categorical(name, index, cardinality, embeddingDim);
  }

  static Sequence sequence(String name, int from, int length, int cardinality, int embeddingDim) {
    return new Sequence(name, from, length, cardinality, embeddingDim);
  }
}
