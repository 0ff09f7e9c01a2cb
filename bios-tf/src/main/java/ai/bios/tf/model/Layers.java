package ai.bios.tf.model;

import ai.bios.tf.input.Seeds;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Squeeze;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Builds a {@link ModelSpec}'s layers into graph operations and draws their initial weights.
 *
 * <p>A model has one INFERENCE pass (prediction, evaluation, the exported SavedModel: dropout is
 * the identity, batch norm uses its moving statistics) and, when it has dropout or batch norm, a
 * separate TRAINING pass over the same variables (dropout masks, batch moments) that the gradients
 * come from. Without those layers both passes are the same operations.
 */
final class Layers {
  private Layers() {}

  /** Small constant added to variances before the square root. */
  static final float EPSILON = 1e-3f;

  /**
   * The built network: its passes, its variables (trainable ones in layer order, then the
   * non-trainable state: each batch-norm layer's moving mean and variance), their initial values,
   * and what the training pass contributes besides gradients.
   *
   * @param dropoutSeed the {@code [2]} seed of the dropout masks, fed per step; null without dropout
   * @param momentSums per batch-norm layer, the training batch's per-channel sum of x and of x²,
   *     in the order (and shapes) of {@link #state}
   */
  record Network(Operand<TFloat32> inference, Operand<TFloat32> training, Placeholder<TInt64> dropoutSeed,
      List<Variable<TFloat32>> trainable, List<Variable<TFloat32>> state, float[] initial,
      List<Operand<TFloat32>> momentSums, List<Params.Norm> norms) {

    List<Variable<TFloat32>> allVariables() {
      List<Variable<TFloat32>> all = new ArrayList<>(trainable);
      all.addAll(state);
      return all;
    }
  }

  static Network build(Ops tf, ModelSpec spec, Operand<TFloat32> input) {
    if (spec.modelFunction() != null) {
      return buildFunction(tf, spec, input);
    }
    Params params = new Params(new SplittableRandom(spec.seed()));
    Operand<TFloat32> inference = forward(tf, spec.layers(), spec.inputShape(), input, params, null, "layer");
    Operand<TFloat32> training = inference;
    Placeholder<TInt64> seed = null;
    List<Operand<TFloat32>> sums = new ArrayList<>();
    if (hasTrainingBehaviour(spec.layers())) {
      Pass pass = new Pass(tf, sums);
      params.reuse();
      training = forward(tf.withSubScope("training"), spec.layers(), spec.inputShape(), input, params, pass, "layer");
      seed = pass.seed; // null when only batch norm differs: nothing to feed
    }
    return new Network(inference, training, seed, params.trainable, params.state, params.initialFlat(), sums,
        params.norms);
  }

  /** A dense layer: kernel (Glorot uniform) then bias (zeros), drawn in that order. */
  static Operand<TFloat32> dense(Ops scope, Params params, Operand<TFloat32> h, int in, int units,
      Activation activation) {
    Variable<TFloat32> w = params.trainable(scope, "kernel", Shape.of(in, units),
        r -> TrainableModel.glorotUniform(r, in * units, in, units));
    Variable<TFloat32> b = params.trainable(scope, "bias", Shape.of(units), r -> new float[units]);
    return activate(scope, scope.nn.biasAdd(scope.linalg.matMul(h, w), b), activation);
  }

  /**
   * A {@link ModelFunction}'s network: the function builds the inference pass, then the training
   * pass over the same variables (its {@link ModelContext#training()} true); when that pass draws no
   * dropout it is the inference pass's graph again, so the inference logits serve both. The logits'
   * width is checked.
   */
  private static Network buildFunction(Ops tf, ModelSpec spec, Operand<TFloat32> input) {
    Params params = new Params(new SplittableRandom(spec.seed()));
    ModelFunction fn = spec.newModelFunction();
    Operand<TFloat32> logits = checkedLogits(spec, fn.build(new ModelContext(tf, spec, input, params, null)));
    Pass pass = new Pass(tf, new ArrayList<>());
    params.reuse();
    Operand<TFloat32> training = checkedLogits(spec,
        spec.newModelFunction().build(new ModelContext(tf.withSubScope("training"), spec, input, params, pass)));
    if (params.nextTrainable != params.trainable.size()) {
      throw new ai.bios.tf.InvalidSettingException("model.modelFunction", spec.modelFunction(),
          "made " + params.trainable.size() + " variables in the inference pass but " + params.nextTrainable
              + " in the training pass: make the same variables, in the same order, whether ctx.training() is true or not");
    }
    if (pass.seed == null) {
      training = logits;
    }
    return new Network(logits, training, pass.seed, params.trainable, params.state, params.initialFlat(), List.of(),
        params.norms);
  }

  private static Operand<TFloat32> checkedLogits(ModelSpec spec, Operand<TFloat32> logits) {
    org.tensorflow.ndarray.Shape s = logits == null ? null : logits.shape();
    if (s == null || s.numDimensions() != 2 || s.size(1) != spec.outputs()) {
      throw new ai.bios.tf.InvalidSettingException("model.modelFunction", spec.modelFunction(),
          "returned logits of shape " + s + " but the spec declares " + spec.outputs()
              + " outputs: return [batch, " + spec.outputs() + "] or set ModelSpec.Builder.outputs(...) to the width it returns");
    }
    return logits;
  }

  /** Whether the training pass differs from the inference pass (dropout with rate > 0, batch norm). */
  static boolean hasTrainingBehaviour(List<LayerSpec> layers) {
    for (LayerSpec l : layers) {
      if (l instanceof LayerSpec.BatchNorm || (l instanceof LayerSpec.Dropout d && d.rate() > 0)
          || (l instanceof LayerSpec.Residual r && hasTrainingBehaviour(r.layers()))) {
        return true;
      }
    }
    return false;
  }

  /** State of the training pass: the dropout seed (made by the first dropout layer) and the batch moments. */
  static final class Pass {
    private final Ops root;
    final List<Operand<TFloat32>> momentSums;
    Placeholder<TInt64> seed;
    int dropouts;

    Pass(Ops root, List<Operand<TFloat32>> momentSums) {
      this.root = root;
      this.momentSums = momentSums;
    }

    Placeholder<TInt64> seed() {
      if (seed == null) {
        seed = root.withName("dropout_seed").placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));
      }
      return seed;
    }
  }

  /** Applies {@code layers} to {@code h} (per-record shape {@code inShape}); {@code pass} null: inference. */
  private static Operand<TFloat32> forward(Ops tf, List<LayerSpec> layers, List<Integer> inShape,
      Operand<TFloat32> h, Params params, Pass pass, String prefix) {
    List<List<Integer>> shapes = Shapes.infer(inShape, layers, prefix.equals("layer") ? "model.layers" : "inner");
    for (int i = 0; i < layers.size(); i++) {
      LayerSpec layer = layers.get(i);
      Ops scope = tf.withSubScope(prefix + i);
      List<Integer> out = shapes.get(i);
      if (layer instanceof LayerSpec.Dense d) {
        h = dense(scope, params, h, inShape.get(0), d.units(), d.activation());
      } else if (layer instanceof LayerSpec.Conv2D c) {
        int cin = inShape.get(2);
        int k = c.kernel();
        Variable<TFloat32> w = params.trainable(scope, "kernel", Shape.of(k, k, cin, c.filters()),
            r -> TrainableModel.glorotUniform(r, k * k * cin * c.filters(), (long) k * k * cin,
                (long) k * k * c.filters()));
        Variable<TFloat32> b = params.trainable(scope, "bias", Shape.of(c.filters()), r -> new float[c.filters()]);
        Operand<TFloat32> conv = scope.nn.conv2d(h, w,
            List.of(1L, (long) c.stride(), (long) c.stride(), 1L), c.padding().name());
        h = activate(scope, scope.nn.biasAdd(conv, b), c.activation());
      } else if (layer instanceof LayerSpec.Pool p) {
        List<Long> window = List.of(1L, (long) p.size(), (long) p.size(), 1L);
        List<Long> strides = List.of(1L, (long) p.stride(), (long) p.stride(), 1L);
        if (p.kind() == LayerSpec.PoolKind.AVG) {
          h = scope.nn.avgPool(h, window, strides, p.padding().name());
        } else {
          h = scope.nn.maxPool(h, scope.constant(new int[] {1, p.size(), p.size(), 1}),
              scope.constant(new int[] {1, p.stride(), p.stride(), 1}), p.padding().name());
        }
      } else if (layer instanceof LayerSpec.Flatten) {
        h = scope.reshape(h, scope.constant(new long[] {-1, out.get(0)}));
      } else if (layer instanceof LayerSpec.FeatureColumns f) {
        h = featureColumns(scope, f, h, params);
      } else if (layer instanceof LayerSpec.LayerNorm) {
        h = Normalization.layerNorm(scope, h, inShape, params);
      } else if (layer instanceof LayerSpec.BatchNorm b) {
        h = Normalization.batchNorm(scope, h, inShape, b.momentum(), params, pass == null ? null : pass.momentSums);
      } else if (layer instanceof LayerSpec.Dropout d) {
        if (pass != null && d.rate() > 0) {
          h = dropout(scope, h, d.rate(), pass.seed(), pass.dropouts++);
        }
      } else if (layer instanceof LayerSpec.Residual r) {
        Operand<TFloat32> inner = forward(scope, r.layers(), inShape, h, params, pass, "inner");
        h = scope.math.add(inner, h);
      } else if (layer instanceof LayerSpec.GlobalAvgPool) {
        int[] axes = inShape.size() == 3 ? new int[] {1, 2} : new int[] {1};
        h = scope.math.mean(h, scope.constant(axes));
      } else if (layer instanceof LayerSpec.Conv1D c) {
        h = conv1d(scope, c, h, inShape.get(1), params);
      }
      inShape = out;
    }
    return h;
  }

  private static Operand<TFloat32> featureColumns(Ops tf, LayerSpec.FeatureColumns f, Operand<TFloat32> x,
      Params params) {
    List<Operand<TFloat32>> parts = new ArrayList<>();
    for (int c = 0; c < f.columns().size(); c++) {
      LayerSpec.Column col = f.columns().get(c);
      Ops scope = tf.withSubScope("column" + c); // column names need not be valid op names
      Operand<TFloat32> slice = scope.slice(x, scope.constant(new int[] {0, col.first()}),
          scope.constant(new int[] {-1, col.width()}));
      if (col instanceof LayerSpec.Numeric) {
        parts.add(slice);
        continue;
      }
      int cardinality = col instanceof LayerSpec.Categorical k ? k.cardinality() : ((LayerSpec.Sequence) col).cardinality();
      int dim = col instanceof LayerSpec.Categorical k ? k.embeddingDim() : ((LayerSpec.Sequence) col).embeddingDim();
      Variable<TFloat32> table = params.trainable(scope, "embedding", Shape.of(cardinality, dim),
          r -> uniform(r, cardinality * dim, 0.05));
      Operand<TInt32> ids = scope.dtypes.cast(slice, TInt32.class);
      if (col instanceof LayerSpec.Categorical) {
        ids = scope.reshape(ids, scope.constant(new int[] {-1}));
      }
      parts.add(scope.gather(table, ids, scope.constant(0))); // [n, dim] or [n, length, dim]
    }
    return parts.size() == 1 ? parts.get(0) : tf.concat(parts, tf.constant(1));
  }

  private static Operand<TFloat32> conv1d(Ops scope, LayerSpec.Conv1D c, Operand<TFloat32> h, int cin, Params params) {
    int k = c.kernel();
    Variable<TFloat32> w = params.trainable(scope, "kernel", Shape.of(1, k, cin, c.filters()),
        r -> TrainableModel.glorotUniform(r, k * cin * c.filters(), (long) k * cin, (long) k * c.filters()));
    Variable<TFloat32> b = params.trainable(scope, "bias", Shape.of(c.filters()), r -> new float[c.filters()]);
    // [n, length, c] as a one-row image [n, 1, length, c], convolved along its width.
    Operand<TFloat32> image = scope.expandDims(h, scope.constant(1));
    Operand<TFloat32> conv = scope.nn.conv2d(image, w, List.of(1L, 1L, (long) c.stride(), 1L), c.padding().name());
    Operand<TFloat32> seq = scope.squeeze(conv, Squeeze.axis(List.of(1L)));
    return activate(scope, scope.nn.biasAdd(seq, b), c.activation());
  }

  /**
   * Keeps each value with probability {@code 1 - rate}, scaled by {@code 1 / (1 - rate)}. The mask
   * comes from a stateless random op: the step's seed (fed) plus this layer's number.
   */
  static Operand<TFloat32> dropout(Ops tf, Operand<TFloat32> h, double rate, Operand<TInt64> seed, int number) {
    Operand<TInt64> layerSeed = tf.math.add(seed, tf.constant(new long[] {0, number}));
    Operand<TFloat32> u = tf.random.statelessRandomUniform(tf.shape(h), layerSeed);
    Operand<TFloat32> keep = tf.dtypes.cast(tf.math.greaterEqual(u, tf.constant((float) rate)), TFloat32.class);
    return tf.math.mul(h, tf.math.mul(keep, tf.constant((float) (1.0 / (1.0 - rate)))));
  }

  private static Operand<TFloat32> activate(Ops tf, Operand<TFloat32> x, Activation activation) {
    return switch (activation) {
      case RELU -> tf.nn.relu(x);
      case TANH -> tf.math.tanh(x);
      case SIGMOID -> tf.math.sigmoid(x);
      case NONE -> x;
    };
  }

  private static float[] uniform(SplittableRandom rnd, int size, double limit) {
    float[] w = new float[size];
    for (int i = 0; i < size; i++) {
      w[i] = (float) ((rnd.nextDouble() * 2 - 1) * limit);
    }
    return w;
  }

  /**
   * The step's dropout seed: a pure function of (model seed, step, rank), so every schedule, rerun
   * and resume draws the same masks, and workers and steps draw different ones.
   */
  static long[] dropoutSeed(long modelSeed, long step, int rank) {
    long a = Seeds.mix(modelSeed ^ Seeds.mix(step + 0x632BE59BD9B4E019L));
    return new long[] {a, Seeds.mix(a ^ Seeds.mix(rank + Seeds.GAMMA))};
  }

  /**
   * The model's variables: created (with their initial values, drawn in order from the spec's seed)
   * by the first pass, handed out again in the same order to the next.
   */
  static final class Params {
    /** A batch-norm layer's moving statistics and what turns its moment sums into moments. */
    record Norm(Variable<TFloat32> mean, Variable<TFloat32> variance, float momentum, int positions) {}

    final List<Variable<TFloat32>> trainable = new ArrayList<>();
    final List<Variable<TFloat32>> state = new ArrayList<>();
    final List<Norm> norms = new ArrayList<>();
    private final List<float[]> trainableInit = new ArrayList<>();
    private final List<float[]> stateInit = new ArrayList<>();
    private final SplittableRandom rnd;
    private boolean reusing;
    private int nextTrainable;
    private int nextNorm;

    Params(SplittableRandom rnd) {
      this.rnd = rnd;
    }

    Variable<TFloat32> trainable(Ops scope, String name, Shape shape,
        java.util.function.Function<SplittableRandom, float[]> init) {
      if (reusing) {
        if (nextTrainable == trainable.size()) {
          throw new ai.bios.tf.InvalidSettingException("model.modelFunction training pass", name,
              "makes a variable the inference pass did not: make the same variables, in the same order, "
                  + "whether ctx.training() is true or not");
        }
        return trainable.get(nextTrainable++);
      }
      Variable<TFloat32> v = scope.withName(name).variable(shape, TFloat32.class);
      trainable.add(v);
      trainableInit.add(init.apply(rnd));
      return v;
    }

    /** This batch-norm layer's moving statistics (mean 0, variance 1 at first). */
    Norm norm(Ops scope, int channels, float momentum, int positions) {
      if (reusing) {
        return norms.get(nextNorm++);
      }
      Variable<TFloat32> mean = scope.withName("moving_mean").variable(Shape.of(channels), TFloat32.class);
      Variable<TFloat32> var = scope.withName("moving_variance").variable(Shape.of(channels), TFloat32.class);
      state.add(mean);
      state.add(var);
      stateInit.add(new float[channels]);
      float[] ones = new float[channels];
      java.util.Arrays.fill(ones, 1f);
      stateInit.add(ones);
      Norm n = new Norm(mean, var, momentum, positions);
      norms.add(n);
      return n;
    }

    void reuse() {
      reusing = true;
      nextTrainable = 0;
      nextNorm = 0;
    }

    float[] initialFlat() {
      List<float[]> all = new ArrayList<>(trainableInit);
      all.addAll(stateInit);
      int n = 0;
      for (float[] a : all) {
        n += a.length;
      }
      float[] flat = new float[n];
      int at = 0;
      for (float[] a : all) {
        System.arraycopy(a, 0, flat, at, a.length);
        at += a.length;
      }
      return flat;
    }
  }
}
