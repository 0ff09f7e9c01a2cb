package ai.bios.tf.input;

/**
 * The one seed-mixing function of Bios: SplitMix64's finaliser, which turns nearby inputs (seed 1
 * and 2, step 7 and 8, row 36 and 37) into unrelated 64-bit values. Every seed derived for
 * something random (dropout masks per step and rank, a transform's random source per epoch and
 * record) goes through it, so those seeds are pure functions of their inputs.
 */
public final class Seeds {
  /** The golden-ratio increment SplitMix64 adds before each mix. */
  public static final long GAMMA = 0x9E3779B97F4A7C15L;

  private Seeds() {}

  /** SplitMix64's finaliser of {@code z}: a bijection on 64-bit values. */
  public static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /**
   * A seed of {@code parts} in order: starting from 0, each part is added with {@link #GAMMA} to
   * the value so far, which is then mixed ({@code combine(a, b) = mix(mix(a + GAMMA) + b + GAMMA)}).
   */
  public static long combine(long... parts) {
    long h = 0;
    for (long p : parts) {
      h = mix(h + p + GAMMA);
    }
    return h;
  }
}
