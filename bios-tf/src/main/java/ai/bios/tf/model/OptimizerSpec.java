package ai.bios.tf.model;

import ai.bios.tf.InvalidSettingException;
import java.io.Serializable;
import java.util.Locale;

/**
 * Which optimizer updates the weights, its hyper-parameters, the regularisation and clipping of the
 * gradient it sees, and the learning-rate schedule. Values are validated at construction, naming
 * the setting; {@link #parse} names the setting when the optimizer is unknown.
 *
 * <p>What one update does, in order (see {@link OptimizerGraph}): the mean gradient {@code g}
 * (gradient sums over the global sample count); {@code g += l2 * w} for every kernel (a weight
 * with two or more dimensions: dense and convolution kernels, not biases); if {@code clipNorm > 0},
 * {@code g *= min(1, clipNorm / ||g||)} with the global norm over all weights; then the optimizer's
 * step at learning rate {@link #learningRateAt learningRateAt(step)}; ADAMW also shrinks every
 * kernel by {@code lr * weightDecay * w}, decoupled from the gradient.
 *
 * @param kind SGD, MOMENTUM, ADAM, RMSPROP, ADAGRAD or ADAMW
 * @param learningRate base step size, > 0 (the schedule scales it)
 * @param momentum momentum coefficient (MOMENTUM, RMSPROP), in [0, 1)
 * @param beta1 first-moment decay (ADAM, ADAMW), in [0, 1)
 * @param beta2 second-moment decay (ADAM, ADAMW), in [0, 1)
 * @param epsilon denominator guard (ADAM, ADAMW, RMSPROP, ADAGRAD), > 0
 * @param rho decay of RMSPROP's mean square, in [0, 1)
 * @param initialAccumulator ADAGRAD's starting sum of squares, >= 0
 * @param weightDecay ADAMW's decoupled decay of kernels, >= 0 (0 for every other optimizer)
 * @param l2 coupled L2 penalty on kernels ({@code l2 * w} added to the gradient), >= 0
 * @param clipNorm clip the gradient to this global norm, >= 0 (0: off)
 * @param schedule how the learning rate changes with the step (null: constant)
 */
public record OptimizerSpec(
    Kind kind, double learningRate, double momentum, double beta1, double beta2, double epsilon,
    double rho, double initialAccumulator, double weightDecay, double l2, double clipNorm,
    LearningRateSchedule schedule)
    implements Serializable {

  /** The optimizers Bios implements. */
  public enum Kind {
    SGD,
    MOMENTUM,
    ADAM,
    RMSPROP,
    ADAGRAD,
    ADAMW
  }

  private static final String NAMES = "sgd, momentum, adam, rmsprop, adagrad, adamw";
  /** ADAMW's default decoupled weight decay. */
  public static final double DEFAULT_WEIGHT_DECAY = 0.01;

  public OptimizerSpec {
    if (kind == null) {
      throw new InvalidSettingException("optimizer", null, "must be one of " + NAMES);
    }
    InvalidSettingException.positive("learningRate", learningRate);
    unitInterval("momentum", momentum);
    unitInterval("beta1", beta1);
    unitInterval("beta2", beta2);
    InvalidSettingException.positive("epsilon", epsilon);
    unitInterval("rho", rho);
    nonNegative("initialAccumulator", initialAccumulator, "");
    nonNegative("weightDecay", weightDecay, " (0: off)");
    if (weightDecay > 0 && kind != Kind.ADAMW) {
      throw new InvalidSettingException("weightDecay", weightDecay, "applies to optimizer adamw only (decoupled "
          + "decay), not " + kind.name().toLowerCase(Locale.ROOT) + "; use optimizer=adamw, or l2 for a coupled penalty");
    }
    if (learningRate * weightDecay >= 1) {
      throw new InvalidSettingException("weightDecay", weightDecay, "times learningRate " + learningRate
          + " must be below 1 (each step shrinks the kernels by that fraction)");
    }
    nonNegative("l2", l2, " (0: off)");
    nonNegative("clipNorm", clipNorm, " (0: off)");
    schedule = schedule == null ? LearningRateSchedule.CONSTANT_RATE : schedule;
  }

  /** The optimizer with the defaults of everything added since: no decay, no L2, no clipping, constant rate. */
  public OptimizerSpec(Kind kind, double learningRate, double momentum, double beta1, double beta2, double epsilon) {
    this(kind, learningRate, momentum, beta1, beta2, epsilon, 0.9, 0.1, 0, 0, 0, null);
  }

  public static OptimizerSpec sgd(double learningRate) {
    return new OptimizerSpec(Kind.SGD, learningRate, 0.0, 0.9, 0.999, 1e-7);
  }

  public static OptimizerSpec momentum(double learningRate, double momentum) {
    return new OptimizerSpec(Kind.MOMENTUM, learningRate, momentum, 0.9, 0.999, 1e-7);
  }

  public static OptimizerSpec adam(double learningRate) {
    return new OptimizerSpec(Kind.ADAM, learningRate, 0.0, 0.9, 0.999, 1e-7);
  }

  /** RMSProp with rho 0.9, no momentum, epsilon 1e-7. */
  public static OptimizerSpec rmsprop(double learningRate) {
    return rmsprop(learningRate, 0.9, 0.0, 1e-7);
  }

  /**
   * RMSProp (TensorFlow's {@code ApplyRMSProp}): {@code ms = rho*ms + (1-rho)*g^2};
   * {@code mom = momentum*mom + lr*g/sqrt(ms + epsilon)}; {@code w -= mom}. Both slots start at 0.
   */
  public static OptimizerSpec rmsprop(double learningRate, double rho, double momentum, double epsilon) {
    return new OptimizerSpec(Kind.RMSPROP, learningRate, momentum, 0.9, 0.999, epsilon, rho, 0.1, 0, 0, 0, null);
  }

  /** Adagrad with initial accumulator 0.1 and epsilon 1e-7. */
  public static OptimizerSpec adagrad(double learningRate) {
    return adagrad(learningRate, 0.1, 1e-7);
  }

  /**
   * Adagrad (TensorFlow's {@code ApplyAdagradV2}): {@code acc += g^2};
   * {@code w -= lr*g/(sqrt(acc) + epsilon)}, the sum starting at {@code initialAccumulator}.
   */
  public static OptimizerSpec adagrad(double learningRate, double initialAccumulator, double epsilon) {
    return new OptimizerSpec(Kind.ADAGRAD, learningRate, 0.0, 0.9, 0.999, epsilon, 0.9, initialAccumulator,
        0, 0, 0, null);
  }

  /** AdamW: Adam (0.9, 0.999, 1e-7) and, each step, kernels shrink by {@code lr * weightDecay * w}. */
  public static OptimizerSpec adamW(double learningRate, double weightDecay) {
    return new OptimizerSpec(Kind.ADAMW, learningRate, 0.0, 0.9, 0.999, 1e-7, 0.9, 0.1, weightDecay, 0, 0, null);
  }

  /**
   * The optimizer named {@code name} (any case: {@code sgd}, {@code momentum}, {@code adam},
   * {@code rmsprop}, {@code adagrad} or {@code adamw}) with default hyper-parameters (momentum 0.9;
   * Adam 0.9, 0.999, 1e-7; RMSProp rho 0.9, no momentum; Adagrad initial accumulator 0.1; AdamW
   * weight decay {@value #DEFAULT_WEIGHT_DECAY}).
   */
  public static OptimizerSpec parse(String name, double learningRate) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    return switch (n) {
      case "sgd" -> sgd(learningRate);
      case "momentum" -> momentum(learningRate, 0.9);
      case "adam" -> adam(learningRate);
      case "rmsprop" -> rmsprop(learningRate);
      case "adagrad" -> adagrad(learningRate);
      case "adamw" -> adamW(learningRate, DEFAULT_WEIGHT_DECAY);
      default -> throw new InvalidSettingException("optimizer", "\"" + name + "\"", "must be one of " + NAMES);
    };
  }

  /** This optimizer with ADAMW's decoupled weight decay set to {@code v}. */
  public OptimizerSpec withWeightDecay(double v) {
    return new OptimizerSpec(kind, learningRate, momentum, beta1, beta2, epsilon, rho, initialAccumulator, v, l2,
        clipNorm, schedule);
  }

  /** This optimizer with a coupled L2 penalty {@code v} on kernels. */
  public OptimizerSpec withL2(double v) {
    return new OptimizerSpec(kind, learningRate, momentum, beta1, beta2, epsilon, rho, initialAccumulator,
        weightDecay, v, clipNorm, schedule);
  }

  /** This optimizer clipping the gradient to global norm {@code v} (0: off). */
  public OptimizerSpec withClipNorm(double v) {
    return new OptimizerSpec(kind, learningRate, momentum, beta1, beta2, epsilon, rho, initialAccumulator,
        weightDecay, l2, v, schedule);
  }

  /** This optimizer with the learning-rate schedule {@code s}. */
  public OptimizerSpec withSchedule(LearningRateSchedule s) {
    return new OptimizerSpec(kind, learningRate, momentum, beta1, beta2, epsilon, rho, initialAccumulator,
        weightDecay, l2, clipNorm, s);
  }

  /**
   * The learning rate of optimizer step {@code step} (0-based): {@code learningRate *
   * schedule.factor(step)}, in double; the update uses it rounded to float.
   */
  public double learningRateAt(long step) {
    return learningRate * schedule.factor(step);
  }

  /**
   * The record's usual form, with only the settings this optimizer uses: a spec with no more than
   * the original six settings reads as it always did, so checkpoints written before the others
   * existed keep matching (their run identity holds this text).
   */
  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("OptimizerSpec[kind=").append(kind).append(", learningRate=")
        .append(learningRate).append(", momentum=").append(momentum).append(", beta1=").append(beta1)
        .append(", beta2=").append(beta2).append(", epsilon=").append(epsilon);
    switch (kind) {
      case RMSPROP -> b.append(", rho=").append(rho);
      case ADAGRAD -> b.append(", initialAccumulator=").append(initialAccumulator);
      case ADAMW -> b.append(", weightDecay=").append(weightDecay);
      default -> { }
    }
    if (l2 > 0) {
      b.append(", l2=").append(l2);
    }
    if (clipNorm > 0) {
      b.append(", clipNorm=").append(clipNorm);
    }
    if (!schedule.equals(LearningRateSchedule.CONSTANT_RATE)) {
      b.append(", schedule=").append(schedule.spec()).append(", warmupSteps=").append(schedule.warmupSteps());
    }
    return b.append(']').toString();
  }

  private static void unitInterval(String setting, double v) {
    if (!(v >= 0.0 && v < 1.0)) {
      throw new InvalidSettingException(setting, v, "must be in [0, 1)");
    }
  }

  private static void nonNegative(String setting, double v, String zero) {
    if (!(v >= 0.0) || Double.isInfinite(v)) {
      throw new InvalidSettingException(setting, v, "must be a finite number >= 0" + zero);
    }
  }
}
