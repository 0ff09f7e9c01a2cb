package ai.bios.tf.model;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** The graph of the per-record loss: the loss function, label smoothing and loss weights ({@link LossOptions}). */
final class LossGraph {
  private LossGraph() {}

  /** The labels the loss trains on: {@code y}, or with label smoothing e {@code (1-e)·y + e/K} (sigmoid: K = 2). */
  static Operand<TFloat32> targets(Ops tf, ModelSpec spec, LossOptions options, Operand<TFloat32> y) {
    double e = options.labelSmoothing();
    if (e == 0) {
      return y;
    }
    int k = spec.loss() == Loss.SOFTMAX_CROSS_ENTROPY ? spec.outputs() : 2;
    return tf.withName("smoothed_labels").math.add(tf.math.mul(y, tf.constant((float) (1 - e))),
        tf.constant((float) (e / k)));
  }

  /**
   * Each record's loss weight, shape {@code [n]}: its sample weight times its class's weight (the
   * class from the unsmoothed label {@code y}: softmax {@code y·classWeights}; sigmoid {@code neg +
   * y·(pos - neg)}), or null when the loss is unweighted.
   */
  static Operand<TFloat32> recordWeights(Ops tf, ModelSpec spec, LossOptions options, Operand<TFloat32> y,
      Placeholder<TFloat32> sampleWeight) {
    float[] cw = options.classWeights();
    Operand<TFloat32> classWeight = null;
    if (cw != null && spec.loss() == Loss.SOFTMAX_CROSS_ENTROPY) {
      classWeight = tf.sum(tf.math.mul(y, tf.constant(cw)), tf.constant(new int[] {1}));
    } else if (cw != null) {
      classWeight = tf.math.add(tf.constant(cw[0]),
          tf.math.mul(tf.reshape(y, tf.constant(new int[] {-1})), tf.constant(cw[1] - cw[0])));
    }
    if (classWeight == null) {
      return sampleWeight;
    }
    return sampleWeight == null ? classWeight : tf.math.mul(sampleWeight, classWeight);
  }

  /** {@code loss} times each record's weight, or {@code loss} itself when unweighted. */
  static Operand<TFloat32> weighted(Ops tf, Operand<TFloat32> loss, Operand<TFloat32> recordWeight) {
    return recordWeight == null ? loss : tf.math.mul(loss, recordWeight);
  }

  /** Each record's loss, shape {@code [n]}, against {@code targets}. */
  static Operand<TFloat32> perRecord(Ops tf, Loss loss, Operand<TFloat32> logits, Operand<TFloat32> targets) {
    Operand<TInt32> axis1 = tf.constant(new int[] {1});
    return switch (loss) {
      case SOFTMAX_CROSS_ENTROPY -> tf.nn.softmaxCrossEntropyWithLogits(logits, targets).loss();
      case SIGMOID_CROSS_ENTROPY -> {
        // Stable form: max(l, 0) - l*y + log(1 + exp(-|l|)), summed over outputs.
        Operand<TFloat32> perOutput = tf.math.add(
            tf.math.sub(tf.nn.relu(logits), tf.math.mul(logits, targets)),
            tf.math.log1p(tf.math.exp(tf.math.neg(tf.math.abs(logits)))));
        yield tf.sum(perOutput, axis1);
      }
      case MEAN_SQUARED_ERROR -> tf.math.mean(tf.math.square(tf.math.sub(logits, targets)), axis1);
    };
  }
}
