package ai.bios.tf.model;

import ai.bios.tf.InvalidSettingException;
import java.io.Serializable;
import java.util.Locale;

/**
 * How the learning rate changes over a run, as a multiple of the optimizer's base
 * {@code learningRate}: a pure function {@link #factor(long)} of the optimizer's step (its applied
 * updates, which a checkpoint restores), computed in {@code double}, so the rate at step {@code s}
 * is the same on every worker, in both execution modes and after a resume. Immutable, serializable
 * and JSON-friendly (a record of plain values).
 *
 * <p>First a linear warm-up: for {@code s < warmupSteps} the factor is {@code s / warmupSteps},
 * from 0 at step 0 up to 1 at step {@code warmupSteps}. Then, with {@code t = s - warmupSteps}:
 *
 * <ul>
 *   <li>{@code CONSTANT}: 1;
 *   <li>{@code COSINE}: {@code floor + (1 - floor) * (1 + cos(pi * min(1, t / (totalSteps - warmupSteps)))) / 2},
 *       from 1 down to {@code floor} at {@code totalSteps} and flat after. {@code totalSteps} 0
 *       means "the run's total steps, not known yet": fill it with {@link #withTotalSteps} before
 *       training (the Spark estimator does, from epochs and the steps per epoch);
 *   <li>{@code STEP}: {@code decayRate ^ floor(t / decaySteps)}: times {@code decayRate} every
 *       {@code decaySteps} steps;
 *   <li>{@code EXPONENTIAL}: {@code decayRate ^ (t / decaySteps)}: smoothly, {@code decayRate} per
 *       {@code decaySteps} steps.
 * </ul>
 *
 * <p>Short form ({@link #parse}, {@link #spec()}), without the warm-up, which is a setting of its own:
 * {@code constant}, {@code cosine}, {@code cosine:TOTAL}, {@code cosine:TOTAL:FLOOR},
 * {@code step:EVERY:FACTOR}, {@code exponential:EVERY:RATE} (TOTAL may be {@code auto} or 0).
 * Fields a kind does not use are normalised to their neutral values (0, or 1 for {@code decayRate}).
 *
 * @param kind the shape after the warm-up
 * @param warmupSteps steps of linear warm-up from 0, >= 0
 * @param totalSteps COSINE: the step the decay reaches {@code floor}, > warmupSteps, or 0 for auto
 * @param decaySteps STEP, EXPONENTIAL: steps per {@code decayRate}, >= 1
 * @param decayRate STEP, EXPONENTIAL: the factor per {@code decaySteps}, in (0, 1]
 * @param floor COSINE: the final factor, in [0, 1)
 */
public record LearningRateSchedule(
    Kind kind, long warmupSteps, long totalSteps, long decaySteps, double decayRate, double floor)
    implements Serializable {

  /** The shapes of schedule Bios implements. */
  public enum Kind {
    CONSTANT,
    COSINE,
    STEP,
    EXPONENTIAL
  }

  private static final String SETTING = "learningRateSchedule";
  private static final String FORMS =
      "must be constant, cosine, cosine:TOTAL, cosine:TOTAL:FLOOR, step:EVERY:FACTOR or exponential:EVERY:RATE "
          + "(e.g. cosine:10000:0.01, step:1000:0.5, exponential:1000:0.96)";

  /** The default: the base learning rate at every step. */
  public static final LearningRateSchedule CONSTANT_RATE = constant();

  public LearningRateSchedule {
    if (kind == null) {
      throw new InvalidSettingException(SETTING, null, FORMS);
    }
    if (warmupSteps < 0) {
      throw new InvalidSettingException("warmupSteps", warmupSteps, "must be >= 0 (0: no warm-up)");
    }
    if (kind != Kind.COSINE) {
      totalSteps = 0;
      floor = 0;
    }
    if (kind == Kind.CONSTANT || kind == Kind.COSINE) {
      decaySteps = 0;
      decayRate = 1;
    }
    switch (kind) {
      case COSINE -> {
        if (totalSteps < 0) {
          throw new InvalidSettingException(SETTING, totalSteps, "cosine total steps must be >= 1 (or 0 for auto)");
        }
        if (!(floor >= 0 && floor < 1)) {
          throw new InvalidSettingException(SETTING, floor,
              "cosine floor (the final rate as a fraction of learningRate) must be in [0, 1)");
        }
        if (totalSteps > 0 && warmupSteps >= totalSteps) {
          throw new InvalidSettingException("warmupSteps", warmupSteps,
              "must be below the cosine schedule's " + totalSteps + " total steps");
        }
      }
      case STEP, EXPONENTIAL -> {
        if (decaySteps < 1) {
          throw new InvalidSettingException(SETTING, decaySteps, "decay steps (EVERY) must be >= 1");
        }
        if (!(decayRate > 0 && decayRate <= 1)) {
          throw new InvalidSettingException(SETTING, decayRate, "decay factor or rate must be in (0, 1]");
        }
      }
      case CONSTANT -> { }
    }
  }

  public static LearningRateSchedule constant() {
    return new LearningRateSchedule(Kind.CONSTANT, 0, 0, 0, 1, 0);
  }

  /** Cosine decay to {@code floor} (a fraction of the base rate) at {@code totalSteps} (0: auto). */
  public static LearningRateSchedule cosine(long totalSteps, double floor) {
    return new LearningRateSchedule(Kind.COSINE, 0, totalSteps, 0, 1, floor);
  }

  /** Times {@code factor} every {@code everySteps} steps. */
  public static LearningRateSchedule step(long everySteps, double factor) {
    return new LearningRateSchedule(Kind.STEP, 0, 0, everySteps, factor, 0);
  }

  /** Smoothly times {@code rate} per {@code everySteps} steps. */
  public static LearningRateSchedule exponential(long everySteps, double rate) {
    return new LearningRateSchedule(Kind.EXPONENTIAL, 0, 0, everySteps, rate, 0);
  }

  /** This schedule after a linear warm-up of {@code steps} steps. */
  public LearningRateSchedule withWarmup(long steps) {
    return new LearningRateSchedule(kind, steps, totalSteps, decaySteps, decayRate, floor);
  }

  /** This schedule with its total steps, for a cosine schedule left at auto (0); others are unchanged. */
  public LearningRateSchedule withTotalSteps(long steps) {
    if (!needsTotalSteps()) {
      return this;
    }
    if (steps <= warmupSteps) {
      throw new InvalidSettingException("warmupSteps", warmupSteps,
          "must be below the run's " + steps + " steps for a cosine schedule; lower warmupSteps or train longer");
    }
    return new LearningRateSchedule(kind, warmupSteps, steps, decaySteps, decayRate, floor);
  }

  /** Whether this is a cosine schedule whose total steps are still to be filled in (auto). */
  public boolean needsTotalSteps() {
    return kind == Kind.COSINE && totalSteps == 0;
  }

  /**
   * The multiple of the base learning rate at optimizer step {@code step} (0-based): a pure
   * function of the step, in [0, 1].
   *
   * @throws IllegalStateException for a cosine schedule whose total steps are not filled in
   */
  public double factor(long step) {
    if (step < 0) {
      throw new IllegalArgumentException("step must be >= 0, was " + step);
    }
    if (step < warmupSteps) {
      return step / (double) warmupSteps;
    }
    long t = step - warmupSteps;
    return switch (kind) {
      case CONSTANT -> 1.0;
      case COSINE -> {
        if (totalSteps == 0) {
          throw new IllegalStateException("the cosine schedule's total steps are not known; call withTotalSteps");
        }
        double progress = Math.min(1.0, t / (double) (totalSteps - warmupSteps));
        yield floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
      }
      case STEP -> Math.pow(decayRate, t / decaySteps);
      case EXPONENTIAL -> Math.pow(decayRate, t / (double) decaySteps);
    };
  }

  /** The short form {@link #parse} reads back (without the warm-up). */
  public String spec() {
    return switch (kind) {
      case CONSTANT -> "constant";
      case COSINE -> "cosine:" + (totalSteps == 0 ? "auto" : Long.toString(totalSteps)) + ":" + floor;
      case STEP -> "step:" + decaySteps + ":" + decayRate;
      case EXPONENTIAL -> "exponential:" + decaySteps + ":" + decayRate;
    };
  }

  /**
   * Reads the short form (any case; see the class comment) and adds a warm-up of
   * {@code warmupSteps}. A bad value fails naming {@code learningRateSchedule}, the value and the
   * accepted forms.
   */
  public static LearningRateSchedule parse(String text, long warmupSteps) {
    String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
    String[] parts = t.split(":", -1);
    try {
      LearningRateSchedule s = switch (parts[0]) {
        case "constant" -> parts.length == 1 ? constant() : null;
        case "cosine" -> parts.length > 3 ? null : cosine(
            parts.length < 2 || parts[1].equals("auto") ? 0 : Long.parseLong(parts[1]),
            parts.length < 3 ? 0 : Double.parseDouble(parts[2]));
        case "step" -> parts.length == 3 ? step(Long.parseLong(parts[1]), Double.parseDouble(parts[2])) : null;
        case "exponential" ->
            parts.length == 3 ? exponential(Long.parseLong(parts[1]), Double.parseDouble(parts[2])) : null;
        default -> null;
      };
      if (s == null) {
        throw new InvalidSettingException(SETTING, "\"" + text + "\"", FORMS);
      }
      return s.withWarmup(warmupSteps);
    } catch (NumberFormatException e) {
      throw new InvalidSettingException(SETTING, "\"" + text + "\"", FORMS);
    }
  }
}
