package ai.bios.tf.input;

import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Test helper: a {@link ParallelRecordSource} with real per-record work of uneven cost. {@code
 * fetch} hands out a copy of the record's stored features (its "encoded bytes"); {@code transform}
 * mixes a hash {@code 2000 x (index % 7)} times (CPU work, never a sleep) to seed the record's
 * augmentation, then adds noise drawn from {@code (seed, epoch, index)} and that hash. The result is
 * a pure function of {@code (raw, index, epoch)}, so any thread count gives the same records.
 */
public final class UnevenRecords implements ParallelRecordSource<float[]> {
  private final InMemoryRecords base;
  private final int features;
  private final long seed;
  private final IntConsumer onTransform;

  /** @param onTransform called with the record index at the start of every transform (a test's probe) */
  public UnevenRecords(InMemoryRecords base, int features, long seed, IntConsumer onTransform) {
    this.base = base;
    this.features = features;
    this.seed = seed;
    this.onTransform = onTransform;
  }

  public UnevenRecords(InMemoryRecords base, int features, long seed) {
    this(base, features, seed, i -> {});
  }

  @Override
  public int size() {
    return base.size();
  }

  /** The record's features and label, label last. */
  @Override
  public float[] fetch(int index) {
    float[][] row = new float[2][];
    base.read(index, 0, new RecordWriter() {
      @Override
      public void features(float[] v, int offset, int length) {
        row[0] = java.util.Arrays.copyOfRange(v, offset, offset + length);
      }

      @Override
      public void features(double[] v) {
        throw new UnsupportedOperationException();
      }

      @Override
      public void label(double v) {
        row[1] = new float[] {(float) v};
      }

      @Override
      public void labels(float[] v, int offset, int length) {
        row[1] = java.util.Arrays.copyOfRange(v, offset, offset + length);
      }
    });
    float[] raw = java.util.Arrays.copyOf(row[0], features + 1);
    raw[features] = row[1][0];
    return raw;
  }

  @Override
  public void transform(float[] raw, int index, int epoch, RecordWriter out) {
    onTransform.accept(index);
    long h = seed ^ (epoch + 1L) * 0x9E3779B97F4A7C15L ^ (index + 1L) * 0xC2B2AE3D27D4EB4FL;
    for (int k = 2000 * (index % 7); k > 0; k--) {
      h = mix(h + k);
    }
    SplittableRandom rnd = new SplittableRandom(h);
    float[] x = new float[features];
    for (int j = 0; j < features; j++) {
      x[j] = raw[j] + (float) (0.05 * rnd.nextGaussian());
    }
    out.features(x);
    out.label(raw[features]);
  }

  /** A 64-bit finaliser (MurmurHash3's). */
  static long mix(long z) {
    z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
    z = (z ^ (z >>> 33)) * 0xc4ceb53e7f4a5b3L;
    return z ^ (z >>> 33);
  }
}
