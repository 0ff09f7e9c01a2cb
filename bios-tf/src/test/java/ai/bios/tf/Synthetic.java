package ai.bios.tf;

import ai.bios.tf.input.InMemoryRecords;
import java.util.SplittableRandom;

/** Synthetic problems with known answers, for tests. */
public final class Synthetic {
  private Synthetic() {}

  /**
   * Two classes separated by a known hyperplane {@code w.x > 0} with {@code w = (1, -2, 0.5, 1.5,
   * ...)}: a perfect classifier exists.
   */
  public static InMemoryRecords hyperplane(int n, int features, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] x = new float[n * features];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      double dot = 0;
      for (int j = 0; j < features; j++) {
        float v = (float) rnd.nextGaussian();
        x[i * features + j] = v;
        dot += v * weight(j);
      }
      y[i] = dot > 0 ? 1 : 0;
    }
    return new InMemoryRecords(x, features, y, 1);
  }

  private static double weight(int j) {
    return switch (j % 4) {
      case 0 -> 1.0;
      case 1 -> -2.0;
      case 2 -> 0.5;
      default -> 1.5;
    };
  }

  /**
   * {@code size x size x 1} images holding one bright bar, horizontal (class 0) or vertical (class
   * 1), at a random position, over noise.
   */
  public static InMemoryRecords bars(int n, int size, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] x = new float[n * size * size];
    float[] y = new float[n];
    for (int i = 0; i < n; i++) {
      int cls = rnd.nextInt(2);
      int at = rnd.nextInt(size);
      for (int r = 0; r < size; r++) {
        for (int c = 0; c < size; c++) {
          boolean on = cls == 0 ? r == at : c == at;
          x[i * size * size + r * size + c] = (on ? 1f : 0f) + (float) (0.1 * rnd.nextGaussian());
        }
      }
      y[i] = cls;
    }
    return new InMemoryRecords(x, size * size, y, 1);
  }

  /** Live threads whose name starts with {@code prefix}. */
  public static long liveThreads(String prefix) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().startsWith(prefix))
        .count();
  }
}
