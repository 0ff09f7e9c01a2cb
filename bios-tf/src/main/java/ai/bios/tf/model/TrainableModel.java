package ai.bios.tf.model;

import ai.bios.tf.InvalidSettingException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;

/**
 * A {@link ModelSpec} built into a TensorFlow graph with its own session: the unit one training
 * task drives. It owns its graph, session and every tensor it creates, and frees them in
 * {@link #close()}.
 *
 * <p>The training step is split so that aggregation fits in between:
 *
 * <ol>
 *   <li>{@link #computeGradients}: the gradient of the batch's loss SUM (not mean), flattened into
 *       one buffer of {@link #parameterCount()} floats, plus the loss sum and the sample count. Sums
 *       from workers with unequal batches add up to the exact global sums;
 *   <li>(the caller sums buffers and counts across workers);
 *   <li>{@link #applyGradients}: divides the summed gradients by the global count in the graph and
 *       applies the optimizer. With loss weights ({@link LossOptions}) each record's loss is
 *       multiplied by its weight and {@link #applyWeightedGradients} divides by the global weight sum.
 * </ol>
 *
 * <p>Dropout and batch norm behave differently while training: the gradients come from a TRAINING
 * pass (dropout masks drawn from (model seed, step, rank) by stateless random ops; batch norm with
 * the batch's moments), while {@link #predict}, {@link #lossSum} and the exported SavedModel use
 * the INFERENCE pass (no dropout; batch norm with its moving statistics). Batch norm's moving
 * statistics are non-trainable state at the end of the weight buffer; their slots in the gradient
 * buffer carry the batch's moment sums, which the all-reduce adds up and {@link #applyGradients}
 * turns into the global batch's moments, so every worker updates them identically and checkpoints
 * hold them with the weights.
 *
 * <p>Initial weights come from the spec's seed (Glorot-uniform kernels, zero biases), drawn in Java
 * so that they are the same on every machine. Optimizers run on TensorFlow's fused training kernels
 * ({@code ApplyGradientDescent}, {@code ApplyMomentum}, {@code ApplyAdam}, {@code ApplyRMSProp},
 * {@code ApplyAdagradV2}; see {@link OptimizerGraph}) with state variables this class creates and
 * therefore can export: the framework optimizers find variables by scanning the whole graph and keep
 * Adam's beta powers private, which would make checkpoints incomplete. The learning rate of each
 * update is the {@link OptimizerSpec#schedule() schedule}'s at {@link #appliedSteps()}, computed in
 * Java and fed to the graph.
 *
 * <p>Not thread-safe: one thread drives a model at a time.
 */
public final class TrainableModel implements AutoCloseable {
  private final ModelSpec spec;
  private final OptimizerSpec optimizer;
  private final ComputeOptions compute;
  private final LossOptions lossOptions;
  private final Graph graph;
  private final Session session;

  private final Placeholder<TFloat32> x;
  private final Placeholder<TFloat32> y;
  private final Placeholder<TFloat32> sampleWeight; // null without sample weights
  private final Operand<TFloat32> targets; // y, label-smoothed when asked
  private final Operand<TFloat32> recordWeight; // each record's loss weight, or null when unweighted
  private final Operand<TFloat32> weightSum; // its sum, or null
  private final Operand<TFloat32> lossSum;
  private final Operand<TFloat32> trainingLossSum;
  private final Placeholder<TInt64> dropoutSeed;
  private final Operand<TFloat32> flatGradients;
  private final Operand<TFloat32> prediction;

  private final Placeholder<TFloat32> gradientSum;
  private final Placeholder<TFloat32> sampleCountInput;
  private final Placeholder<TFloat32> learningRateInput;
  private final Op applyOp;

  private final StateVector weights;
  private final StateVector optimizerState;
  private final int parameterCount;
  private final int trainableParameterCount;
  private long appliedSteps;

  public TrainableModel(ModelSpec spec, OptimizerSpec optimizer, ComputeOptions compute) {
    this(spec, optimizer, compute, LossOptions.NONE);
  }

  /** A model trained with loss weights or label smoothing ({@link LossOptions}). */
  public TrainableModel(ModelSpec spec, OptimizerSpec optimizer, ComputeOptions compute, LossOptions loss) {
    loss.requireFits(spec);
    if (optimizer.schedule().needsTotalSteps()) {
      throw new InvalidSettingException("learningRateSchedule", optimizer.schedule().spec(),
          "needs the run's total steps; give them (cosine:TOTAL) or fill them in with withTotalSteps");
    }
    this.spec = spec;
    this.optimizer = optimizer;
    this.compute = compute;
    this.lossOptions = loss;
    this.graph = new Graph();
    Session s = null;
    try {
      Ops tf = Ops.create(graph);
      long[] xDims = new long[spec.inputShape().size() + 1];
      xDims[0] = -1;
      for (int i = 0; i < spec.inputShape().size(); i++) {
        xDims[i + 1] = spec.inputShape().get(i);
      }
      x = tf.withName("features").placeholder(TFloat32.class, Placeholder.shape(Shape.of(xDims)));
      y = tf.withName("labels").placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(-1, spec.outputs())));
      sampleWeight = loss.sampleWeights() ? tf.withName("sample_weights").placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(-1))) : null;
      targets = LossGraph.targets(tf, spec, loss, y);
      recordWeight = LossGraph.recordWeights(tf, spec, loss, y, sampleWeight);
      weightSum = recordWeight == null ? null : tf.withName("weight_sum").sum(recordWeight, tf.constant(0));

      Layers.Network net = Layers.build(tf, spec, x);
      List<Variable<TFloat32>> vars = net.trainable();
      lossSum = tf.withName("loss_sum").sum(perSampleLoss(tf, net.inference()), tf.constant(0));
      trainingLossSum = net.training() == net.inference() ? lossSum
          : tf.withName("training_loss_sum").sum(perSampleLoss(tf, net.training()), tf.constant(0));
      prediction = predictionOp(tf, net.inference());
      dropoutSeed = net.dropoutSeed();

      List<Operand<TFloat32>> grads = new ArrayList<>();
      List<Output<?>> dy = tf.gradients(trainingLossSum, vars).dy();
      for (int i = 0; i < vars.size(); i++) {
        @SuppressWarnings("unchecked")
        Operand<TFloat32> g = (Operand<TFloat32>) dy.get(i);
        grads.add(g);
      }
      grads.addAll(net.momentSums()); // batch norm's moment sums ride the all-reduce with the gradients
      flatGradients = StateVector.flatten(tf, grads);
      weights = new StateVector(tf, "weights", net.allVariables());
      parameterCount = weights.size();
      trainableParameterCount = (int) vars.stream().mapToLong(v -> v.shape().size()).sum();

      gradientSum = tf.withName("gradient_sum").placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(parameterCount)));
      sampleCountInput = tf.withName("sample_count").placeholder(TFloat32.class,
          Placeholder.shape(Shape.scalar()));
      Operand<TFloat32> mean = tf.math.div(gradientSum, sampleCountInput);
      List<Operand<TFloat32>> meanParts = weights.split(tf, mean);
      OptimizerGraph opt = OptimizerGraph.build(tf, optimizer, vars, meanParts.subList(0, vars.size()));
      learningRateInput = opt.learningRate();
      List<Op> moving = Normalization.updateMovingStatistics(tf, net.norms(),
          meanParts.subList(vars.size(), meanParts.size()));
      if (moving.isEmpty()) {
        applyOp = opt.apply();
      } else {
        moving.add(opt.apply());
        applyOp = tf.withName("apply_all").withControlDependencies(moving).noOp();
      }
      optimizerState = new StateVector(tf, "optimizer", opt.state());

      s = new Session(graph, false, compute.toConfigProto());
      this.session = s;
      weights.write(session, net.initial());
      if (optimizerState.size() > 0) {
        optimizerState.write(session, opt.initialState());
      }
    } catch (RuntimeException | Error e) {
      if (s != null) {
        s.close();
      }
      graph.close();
      throw e;
    }
  }

  public ModelSpec spec() {
    return spec;
  }

  public OptimizerSpec optimizer() {
    return optimizer;
  }

  /** Where the session runs: the device and thread pools its config was built from. */
  public ComputeOptions compute() {
    return compute;
  }

  /** How records' losses are weighted and smoothed. */
  public LossOptions lossOptions() {
    return lossOptions;
  }

  /**
   * Length of the weight and gradient buffers: the trainable parameters ({@link
   * #trainableParameterCount()}), then the model's non-trainable state, each batch-norm layer's
   * moving mean and variance. In the gradient buffer the state's slots carry that layer's batch
   * moment sums (sum of x, sum of x²), so the all-reduce adds them up with the gradients.
   */
  public int parameterCount() {
    return parameterCount;
  }

  /** Number of trainable parameters: the first values of the weight and gradient buffers. */
  public int trainableParameterCount() {
    return trainableParameterCount;
  }

  /** Length of the optimizer-state buffer (every slot, and Adam's beta powers). */
  public int optimizerStateSize() {
    return optimizerState.size();
  }

  /**
   * The optimizer's step: updates applied since construction, or since the step
   * {@link #importOptimizerState} restored (a run's global step). The learning-rate schedule is
   * indexed by it.
   */
  public long appliedSteps() {
    return appliedSteps;
  }

  /** The learning rate the next {@link #applyGradients} uses: the schedule's at {@link #appliedSteps()}. */
  public double currentLearningRate() {
    return optimizer.learningRateAt(appliedSteps);
  }

  /**
   * {@link #computeGradients(Feed, float[], long, int)} as step {@link #appliedSteps()} of worker 0
   * (for single-process use; the step loop passes its own step and rank).
   */
  public GradientStats computeGradients(Feed batch, float[] gradientSums) {
    return computeGradients(batch, gradientSums, appliedSteps, 0);
  }

  /**
   * Gradient of the batch's loss sum with respect to every parameter, written into {@code
   * gradientSums} (length {@link #parameterCount()}; batch norm's moment sums after the
   * gradients). An empty batch writes zeros. This is the training pass: dropout masks are drawn
   * from (model seed, {@code step}, {@code rank}), batch norm uses the batch's moments.
   *
   * @return the batch's loss sum (training pass) and sample count
   */
  public GradientStats computeGradients(Feed batch, float[] gradientSums, long step, int rank) {
    checkLength("gradientSums", gradientSums, parameterCount);
    if (batch.size() == 0) {
      Arrays.fill(gradientSums, 0f);
      return new GradientStats(0.0, 0);
    }
    try (TInt64 seed = dropoutSeed == null ? null
            : TInt64.vectorOf(Layers.dropoutSeed(spec.seed(), step, rank));
        Result r = fetchWeightSum(feed(feedSeed(session.runner(), seed), batch)
            .fetch(flatGradients)
            .fetch(trainingLossSum))
            .run()) {
      ((TFloat32) r.get(0)).asRawTensor().data().asFloats().read(gradientSums);
      double lossSum = ((TFloat32) r.get(1)).getFloat();
      return weightSum == null ? new GradientStats(lossSum, batch.size())
          : new GradientStats(lossSum, batch.size(), ((TFloat32) r.get(2)).getFloat());
    }
  }

  private Session.Runner feedSeed(Session.Runner runner, TInt64 seed) {
    return seed == null ? runner : runner.feed(dropoutSeed, seed);
  }

  /** Feeds a batch's features, labels and, when the loss takes them, sample weights. */
  private Session.Runner feed(Session.Runner runner, Feed batch) {
    runner.feed(x, batch.features()).feed(y, batch.labels());
    if (sampleWeight != null) {
      if (batch.weights() == null) {
        throw new IllegalArgumentException("this model is trained with sample weights (LossOptions.sampleWeights), "
            + "but the batch has none: build batches with a weighted BatchAssembler");
      }
      runner.feed(sampleWeight, batch.weights());
    }
    return runner;
  }

  /** Adds the batch's weight sum as the last fetch, when the loss is weighted. */
  private Session.Runner fetchWeightSum(Session.Runner runner) {
    return weightSum == null ? runner : runner.fetch(weightSum);
  }

  /**
   * The batch's loss sum at the current weights, without gradients, as prediction sees it (no
   * dropout; batch norm with its moving statistics).
   */
  public double lossSum(Feed batch) {
    if (batch.size() == 0) {
      return 0.0;
    }
    try (Result r = feed(session.runner(), batch).fetch(lossSum).run()) {
      return ((TFloat32) r.get(0)).getFloat();
    }
  }

  /**
   * Evaluates {@code batch} at the current weights, without gradients (a forward pass in predict
   * mode): its loss sum, how many records the model gets right and, for a binary classifier, each
   * record's positive-class score and label (see {@link Evaluation}). An empty batch gives zeros.
   */
  public Evaluation evaluate(Feed batch) {
    int n = batch.size();
    boolean binary = Evaluation.binaryClassifier(spec);
    boolean classifier = spec.loss() != Loss.MEAN_SQUARED_ERROR;
    if (n == 0) {
      return new Evaluation(0.0, 0, classifier ? 0 : -1, binary ? new float[0] : null, binary ? new boolean[0] : null);
    }
    int k = spec.outputs();
    float[] p = new float[n * k];
    float[] labels = new float[n * k];
    double loss;
    double weights = n;
    try (Result r = fetchWeightSum(feed(session.runner(), batch).fetch(lossSum).fetch(prediction)).run()) {
      loss = ((TFloat32) r.get(0)).getFloat();
      ((TFloat32) r.get(1)).asRawTensor().data().asFloats().read(p);
      weights = weightSum == null ? n : ((TFloat32) r.get(2)).getFloat();
    }
    batch.labels().asRawTensor().data().asFloats().read(labels);
    long correct = 0;
    float[] scores = binary ? new float[n] : null;
    boolean[] positives = binary ? new boolean[n] : null;
    for (int i = 0; i < n; i++) {
      int at = i * k;
      boolean right = true;
      if (spec.loss() == Loss.SOFTMAX_CROSS_ENTROPY) {
        int best = 0;
        int label = 0;
        for (int j = 1; j < k; j++) {
          best = p[at + j] > p[at + best] ? j : best;
          label = labels[at + j] > labels[at + label] ? j : label;
        }
        right = best == label;
      } else {
        for (int j = 0; j < k; j++) {
          right &= (p[at + j] >= 0.5f) == (labels[at + j] >= 0.5f);
        }
      }
      correct += right ? 1 : 0;
      if (binary) {
        scores[i] = p[at + k - 1];
        positives[i] = labels[at + k - 1] >= 0.5f;
      }
    }
    return new Evaluation(loss, n, classifier ? correct : -1, scores, positives, weights);
  }

  /**
   * Applies the optimizer with the mean gradient {@code gradientSums / sampleCount}, at the
   * {@link #currentLearningRate()} (fed as a float). The division, L2 and clipping happen in the
   * graph, so every worker that applies the same sums at the same step gets the same weights.
   */
  public void applyGradients(float[] gradientSums, long sampleCount) {
    if (sampleCount <= 0) {
      throw new IllegalArgumentException("sampleCount must be > 0, was " + sampleCount
          + ": no worker had data for this step");
    }
    apply(gradientSums, (float) sampleCount);
  }

  /**
   * Applies the optimizer with the weighted mean gradient {@code gradientSums / weightSum}: for a
   * weighted loss ({@link LossOptions#weighted()}), {@code weightSum} is the global sum of the
   * records' weights ({@link GradientStats#weightSum()} summed over workers).
   */
  public void applyWeightedGradients(float[] gradientSums, double weightSum) {
    if (!(weightSum > 0) || Double.isInfinite(weightSum)) {
      throw new IllegalArgumentException("weightSum must be finite and > 0, was " + weightSum
          + ": every record of this step has weight 0 (or no worker had data)");
    }
    apply(gradientSums, (float) weightSum);
  }

  private void apply(float[] gradientSums, float divisor) {
    checkLength("gradientSums", gradientSums, parameterCount);
    try (TFloat32 g = TFloat32.tensorOf(Shape.of(parameterCount));
        TFloat32 n = TFloat32.scalarOf(divisor);
        TFloat32 lr = TFloat32.scalarOf((float) currentLearningRate())) {
      g.asRawTensor().data().asFloats().write(gradientSums);
      session.runner().feed(gradientSum, g).feed(sampleCountInput, n).feed(learningRateInput, lr)
          .addTarget(applyOp).run().close();
    }
    appliedSteps++;
  }

  /**
   * Model outputs for {@code features} (shape {@code [n, ...inputShape]}): class probabilities for
   * softmax, per-output probabilities for sigmoid, values for squared error. Row-major
   * {@code [n, outputs]}.
   */
  public float[] predict(TFloat32 features) {
    int n = (int) features.shape().get(0);
    float[] out = new float[n * spec.outputs()];
    if (n == 0) {
      return out;
    }
    try (Result r = session.runner().feed(x, features).fetch(prediction).run()) {
      ((TFloat32) r.get(0)).asRawTensor().data().asFloats().read(out);
    }
    return out;
  }

  /**
   * Writes this model as a TensorFlow SavedModel (tag {@code serve}, signature
   * {@code serving_default}: input {@code features}, output {@code prediction}), for serving
   * outside Spark (TF Serving, Python {@code tf.saved_model.load}, TF Java). Adds the saver's ops to
   * the graph. {@code dir} must be a local directory that does not exist or is empty.
   */
  public void exportSavedModel(java.nio.file.Path dir) throws java.io.IOException {
    org.tensorflow.Signature signature = org.tensorflow.Signature.builder()
        .key(org.tensorflow.Signature.DEFAULT_KEY)
        .input("features", x)
        .output("prediction", prediction)
        .build();
    org.tensorflow.SavedModelBundle.exporter(dir.toString())
        .withFunction(session.function(signature))
        .export();
  }

  /**
   * All weights, flattened in layer order, then the non-trainable state (batch norm's moving
   * statistics): {@link #parameterCount()} values, the layout of the gradient buffer. Checkpoints
   * and saved models hold this vector, so they hold the moving statistics too.
   */
  public float[] exportWeights() {
    return weights.read(session);
  }

  public void importWeights(float[] values) {
    checkLength("weights", values, parameterCount);
    weights.write(session, values);
  }

  /** The optimizer's state (every slot, then Adam's beta powers; see {@link OptimizerGraph}), flattened. */
  public float[] exportOptimizerState() {
    return optimizerState.size() == 0 ? new float[0] : optimizerState.read(session);
  }

  /**
   * Restores the optimizer's state and step, as exported at step {@code appliedSteps} (the
   * learning-rate schedule continues from there).
   */
  public void importOptimizerState(float[] values, long appliedSteps) {
    checkLength("optimizer state", values, optimizerState.size());
    if (optimizerState.size() > 0) {
      optimizerState.write(session, values);
    }
    this.appliedSteps = appliedSteps;
  }

  private static void checkLength(String what, float[] values, int expected) {
    if (values == null || values.length != expected) {
      throw new IllegalArgumentException(what + ": expected " + expected + " values, got "
          + (values == null ? "null" : values.length));
    }
  }

  private Operand<TFloat32> perSampleLoss(Ops tf, Operand<TFloat32> logits) {
    return LossGraph.weighted(tf, LossGraph.perRecord(tf, spec.loss(), logits, targets), recordWeight);
  }

  private Operand<TFloat32> predictionOp(Ops tf, Operand<TFloat32> logits) {
    return switch (spec.loss()) {
      case SOFTMAX_CROSS_ENTROPY -> tf.withName("prediction").nn.softmax(logits);
      case SIGMOID_CROSS_ENTROPY -> tf.withName("prediction").math.sigmoid(logits);
      case MEAN_SQUARED_ERROR -> tf.withName("prediction").identity(logits);
    };
  }

  /** Closes the session, then the graph. Idempotent. */
  @Override
  public void close() {
    try {
      session.close();
    } finally {
      graph.close();
    }
  }

  /**
   * A batch's contribution: its loss sum, sample count and the sum of its records' loss weights
   * (the count when the loss is unweighted).
   */
  public record GradientStats(double lossSum, long count, double weightSum) {
    public GradientStats(double lossSum, long count) {
      this(lossSum, count, count);
    }
  }

  /** Draws initial weights, deterministic in the seed. */
  static float[] glorotUniform(SplittableRandom rnd, int size, long fanIn, long fanOut) {
    float[] w = new float[size];
    double limit = Math.sqrt(6.0 / (fanIn + fanOut));
    for (int i = 0; i < size; i++) {
      w[i] = (float) ((rnd.nextDouble() * 2 - 1) * limit);
    }
    return w;
  }
}
