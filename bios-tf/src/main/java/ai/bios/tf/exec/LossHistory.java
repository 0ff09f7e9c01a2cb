package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import java.util.Arrays;

/** The global mean loss of every step of a run so far; grows on the training loop's thread. */
final class LossHistory {
  private double[] values = new double[1024];

  void set(long step, double loss) {
    if (step >= values.length) {
      if (step >= Integer.MAX_VALUE - 8) {
        throw new BiosException("run of " + step + " steps is too long for one loop");
      }
      values = Arrays.copyOf(values, (int) Math.max(step + 1, Math.min(Integer.MAX_VALUE - 8L, 2L * values.length)));
    }
    values[(int) step] = loss;
  }

  /** Restores the history a checkpoint recorded (steps {@code [0, history.length)}). */
  void restore(double[] history) {
    for (int i = 0; i < history.length; i++) {
      set(i, history[i]);
    }
  }

  /** The losses of steps {@code [0, steps)}. */
  double[] upTo(long steps) {
    return Arrays.copyOf(values, (int) steps);
  }
}
