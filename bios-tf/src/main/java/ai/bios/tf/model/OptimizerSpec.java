package ai.bios.tf.model;

import ai.bios.tf.InvalidSettingException;
import java.io.Serializable;
import java.util.Locale;

/**
 * Which optimizer updates the weights, and its hyper-parameters. Values are validated at
 * construction; {@link #parse} names the setting when the optimizer is unknown.
 *
 * @param kind SGD, MOMENTUM or ADAM
 * @param learningRate step size, > 0
 * @param momentum momentum coefficient (MOMENTUM), in [0, 1)
 * @param beta1 first-moment decay (ADAM), in [0, 1)
 * @param beta2 second-moment decay (ADAM), in [0, 1)
 * @param epsilon ADAM's denominator guard, > 0
 */
public record OptimizerSpec(
    Kind kind, double learningRate, double momentum, double beta1, double beta2, double epsilon)
    implements Serializable {

  /** The optimizers Bios implements. */
  public enum Kind {
    SGD,
    MOMENTUM,
    ADAM
  }

  public OptimizerSpec {
    if (kind == null) {
      throw new InvalidSettingException("optimizer", null, "must be one of sgd, momentum, adam");
    }
    InvalidSettingException.positive("learningRate", learningRate);
    unitInterval("momentum", momentum);
    unitInterval("beta1", beta1);
    unitInterval("beta2", beta2);
    InvalidSettingException.positive("epsilon", epsilon);
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

  /**
   * The optimizer named {@code name} ({@code sgd}, {@code momentum} or {@code adam}, any case) with
   * default hyper-parameters (momentum 0.9; Adam 0.9, 0.999, 1e-7).
   */
  public static OptimizerSpec parse(String name, double learningRate) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    return switch (n) {
      case "sgd" -> sgd(learningRate);
      case "momentum" -> momentum(learningRate, 0.9);
      case "adam" -> adam(learningRate);
      default -> throw new InvalidSettingException(
          "optimizer", "\"" + name + "\"", "must be one of sgd, momentum, adam");
    };
  }

  private static void unitInterval(String setting, double v) {
    if (!(v >= 0.0 && v < 1.0)) {
      throw new InvalidSettingException(setting, v, "must be in [0, 1)");
    }
  }
}
