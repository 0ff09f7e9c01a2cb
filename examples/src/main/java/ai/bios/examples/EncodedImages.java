package ai.bios.examples;

import ai.bios.tf.input.ParallelRecordSource;
import ai.bios.tf.input.RecordWriter;
import java.util.SplittableRandom;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * Images stored as a pipeline stores them: compressed bytes. {@link #fetch} hands out a record's
 * encoded bytes; {@link #transform} does the real input work, on any input thread with its own
 * scratch: inflate the {@code source x source x 3} bytes, downsample to the model's {@code out x
 * out} (area average, as an image resize does), augment (random crop of a padded image and
 * horizontal flip, drawn from {@code (seed, epoch, index)} so every run sees the same pixels),
 * normalise to floats.
 */
final class EncodedImages implements ParallelRecordSource<byte[]> {
  private final byte[][] encoded;
  private final int[] labels;
  private final int source;
  private final int out;
  private final int pad;
  private final long seed;
  /** Each input thread's inflater and buffers. */
  private final ThreadLocal<Scratch> scratch;

  private static final class Scratch {
    final Inflater inflater = new Inflater();
    final byte[] raw;
    final float[] small;
    final float[] pixels;

    Scratch(int source, int out) {
      raw = new byte[source * source * 3];
      small = new float[out * out * 3];
      pixels = new float[out * out * 3];
    }
  }

  EncodedImages(int n, int classes, int source, int out, long seed) {
    if (source % out != 0) {
      throw new IllegalArgumentException("source size " + source + " must be a multiple of " + out);
    }
    this.source = source;
    this.out = out;
    this.pad = Math.max(1, out / 8);
    this.seed = seed;
    this.scratch = ThreadLocal.withInitial(() -> new Scratch(source, out));
    this.encoded = new byte[n][];
    this.labels = new int[n];
    SplittableRandom rnd = new SplittableRandom(seed);
    Deflater deflater = new Deflater(6);
    byte[] image = new byte[source * source * 3];
    byte[] buf = new byte[image.length * 2 + 64];
    for (int i = 0; i < n; i++) {
      int cls = rnd.nextInt(classes);
      labels[i] = cls;
      // A class-dependent smooth pattern plus noise: compresses like a photo, not like zeros.
      double fx = 1 + cls % 4;
      double fy = 1 + cls / 4;
      double phase = rnd.nextDouble() * Math.PI;
      for (int y = 0; y < source; y++) {
        for (int x = 0; x < source; x++) {
          for (int c = 0; c < 3; c++) {
            double v = 128 + 80 * Math.sin(fx * x * Math.PI / source + phase + c)
                * Math.cos(fy * y * Math.PI / source) + 20 * rnd.nextGaussian();
            image[(y * source + x) * 3 + c] = (byte) Math.max(0, Math.min(255, (int) v));
          }
        }
      }
      deflater.reset();
      deflater.setInput(image);
      deflater.finish();
      int len = deflater.deflate(buf);
      encoded[i] = java.util.Arrays.copyOf(buf, len);
    }
    deflater.end();
  }

  int classes() {
    int max = 0;
    for (int l : labels) {
      max = Math.max(max, l);
    }
    return max + 1;
  }

  @Override
  public int size() {
    return encoded.length;
  }

  /** The record's encoded bytes (never written: shared by every read of the record). */
  @Override
  public byte[] fetch(int index) {
    return encoded[index];
  }

  @Override
  public void transform(byte[] bytes, int index, int epoch, RecordWriter w) {
    Scratch s = scratch.get();
    Inflater inflater = s.inflater;
    byte[] raw = s.raw;
    float[] small = s.small;
    float[] pixels = s.pixels;
    inflater.reset();
    inflater.setInput(bytes);
    try {
      int got = inflater.inflate(raw);
      if (got != raw.length) {
        throw new IllegalStateException("record " + index + ": decoded " + got + " of " + raw.length + " bytes");
      }
    } catch (DataFormatException e) {
      throw new IllegalStateException("record " + index + " is not valid deflate data", e);
    }
    // Downsample by area averaging.
    int f = source / out;
    float norm = 1f / (f * f * 255f);
    for (int y = 0; y < out; y++) {
      for (int x = 0; x < out; x++) {
        for (int c = 0; c < 3; c++) {
          int sum = 0;
          for (int dy = 0; dy < f; dy++) {
            int row = ((y * f + dy) * source + x * f) * 3 + c;
            for (int dx = 0; dx < f; dx++) {
              sum += raw[row + dx * 3] & 0xff;
            }
          }
          small[(y * out + x) * 3 + c] = sum * norm;
        }
      }
    }
    // Augment: crop of the zero-padded image at a random offset, random horizontal flip.
    SplittableRandom rnd = new SplittableRandom(seed ^ (epoch * 0x9E3779B97F4A7C15L) ^ (index * 0xC2B2AE3D27D4EB4FL));
    int ox = rnd.nextInt(2 * pad + 1) - pad;
    int oy = rnd.nextInt(2 * pad + 1) - pad;
    boolean flip = rnd.nextBoolean();
    for (int y = 0; y < out; y++) {
      int sy = y + oy;
      for (int x = 0; x < out; x++) {
        int sx = (flip ? out - 1 - x : x) + ox;
        boolean inside = sy >= 0 && sy < out && sx >= 0 && sx < out;
        for (int c = 0; c < 3; c++) {
          pixels[(y * out + x) * 3 + c] = inside ? (small[(sy * out + sx) * 3 + c] - 0.5f) * 4f : 0f;
        }
      }
    }
    w.features(pixels);
    w.label(labels[index]);
  }
}
