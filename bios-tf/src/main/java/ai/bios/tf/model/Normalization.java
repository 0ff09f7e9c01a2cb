package ai.bios.tf.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.op.math.Mean;
import org.tensorflow.types.TFloat32;

/**
 * Layer and batch normalisation over the last axis (channels), each with a trainable gain (ones at
 * first) and bias (zeros).
 *
 * <p>Batch norm across workers: the training pass normalises with its own (local) batch's moments
 * and also emits the batch's per-channel sums of x and x². {@link TrainableModel} appends those
 * sums to the gradient buffer, so the all-reduce adds them up with the gradients; the apply step
 * divides them by the global count, like the gradients, and moves the moving statistics toward the
 * GLOBAL batch's moments. Every worker applies the same sums, so every worker holds the same
 * moving statistics, with no extra communication.
 */
final class Normalization {
  private Normalization() {}

  static Operand<TFloat32> layerNorm(Ops tf, Operand<TFloat32> x, List<Integer> inShape, Layers.Params params) {
    int channels = inShape.get(inShape.size() - 1);
    Variable<TFloat32> gain = params.trainable(tf, "gain", Shape.of(channels), r -> ones(channels));
    Variable<TFloat32> bias = params.trainable(tf, "bias", Shape.of(channels), r -> new float[channels]);
    Operand<org.tensorflow.types.TInt32> last = tf.constant(-1);
    Operand<TFloat32> mean = tf.math.mean(x, last, Mean.keepDims(true));
    Operand<TFloat32> centred = tf.math.sub(x, mean);
    Operand<TFloat32> var = tf.math.mean(tf.math.square(centred), last, Mean.keepDims(true));
    return scaleAndShift(tf, centred, var, gain, bias);
  }

  /**
   * @param momentSums null in the inference pass (normalise with the moving statistics); in the
   *     training pass, where this layer's sums of x and x² go
   */
  static Operand<TFloat32> batchNorm(Ops tf, Operand<TFloat32> x, List<Integer> inShape, double momentum,
      Layers.Params params, List<Operand<TFloat32>> momentSums) {
    int channels = inShape.get(inShape.size() - 1);
    int positions = inShape.stream().reduce(1, (a, b) -> a * b) / channels;
    Variable<TFloat32> gain = params.trainable(tf, "gain", Shape.of(channels), r -> ones(channels));
    Variable<TFloat32> bias = params.trainable(tf, "bias", Shape.of(channels), r -> new float[channels]);
    Layers.Params.Norm norm = params.norm(tf, channels, (float) momentum, positions);
    if (momentSums == null) {
      return scaleAndShift(tf, tf.math.sub(x, norm.mean()), norm.variance(), gain, bias);
    }
    int[] axes = new int[inShape.size()]; // the batch axis and every axis but the channels
    for (int i = 0; i < axes.length; i++) {
      axes[i] = i;
    }
    Operand<org.tensorflow.types.TInt32> reduce = tf.constant(axes);
    Operand<TFloat32> mean = tf.math.mean(x, reduce);
    Operand<TFloat32> centred = tf.math.sub(x, mean);
    Operand<TFloat32> var = tf.math.mean(tf.math.square(centred), reduce);
    momentSums.add(tf.withName("sum").sum(x, reduce));
    momentSums.add(tf.withName("sum_of_squares").sum(tf.math.square(x), reduce));
    return scaleAndShift(tf, centred, var, gain, bias);
  }

  /**
   * The moving-statistics updates of the apply step. {@code means} holds, per batch-norm layer,
   * the summed moment sums already divided by the global sample count (per-sample sums of x and
   * x² over the layer's positions).
   */
  static List<Op> updateMovingStatistics(Ops tf, List<Layers.Params.Norm> norms, List<Operand<TFloat32>> means) {
    List<Op> updates = new ArrayList<>();
    Ops bn = tf.withSubScope("moving_statistics");
    for (int i = 0; i < norms.size(); i++) {
      Layers.Params.Norm n = norms.get(i);
      Operand<TFloat32> perPosition = bn.constant(1f / n.positions());
      Operand<TFloat32> mean = bn.math.mul(means.get(2 * i), perPosition);
      Operand<TFloat32> meanSquare = bn.math.mul(means.get(2 * i + 1), perPosition);
      Operand<TFloat32> var = bn.math.maximum(bn.math.sub(meanSquare, bn.math.square(mean)), bn.constant(0f));
      updates.add(bn.assign(n.mean(), decay(bn, n.mean(), mean, n.momentum())));
      updates.add(bn.assign(n.variance(), decay(bn, n.variance(), var, n.momentum())));
    }
    return updates;
  }

  private static Operand<TFloat32> decay(Ops tf, Operand<TFloat32> moving, Operand<TFloat32> batch, float momentum) {
    return tf.math.add(tf.math.mul(moving, tf.constant(momentum)), tf.math.mul(batch, tf.constant(1f - momentum)));
  }

  private static Operand<TFloat32> scaleAndShift(Ops tf, Operand<TFloat32> centred, Operand<TFloat32> var,
      Variable<TFloat32> gain, Variable<TFloat32> bias) {
    Operand<TFloat32> inv = tf.math.rsqrt(tf.math.add(var, tf.constant(Layers.EPSILON)));
    return tf.math.add(tf.math.mul(tf.math.mul(centred, inv), gain), bias);
  }

  private static float[] ones(int n) {
    float[] a = new float[n];
    Arrays.fill(a, 1f);
    return a;
  }
}
