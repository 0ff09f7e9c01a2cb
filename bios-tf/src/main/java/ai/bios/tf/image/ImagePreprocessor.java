package ai.bios.tf.image;

import ai.bios.tf.InvalidSettingException;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Turns one image into a model's input: decode ({@link ImageDecoder}) -> resize to
 * {@code height x width} -> (training only) random crop and horizontal flip -> per-channel
 * normalisation {@code (v / 255 - mean[c]) / std[c]} -> NHWC floats written into a caller's array.
 *
 * <p><b>Resize</b>: separable triangle filter with half-pixel centres, widened by the scale factor
 * when shrinking (bilinear when enlarging, an antialiased area-like average when shrinking), edges
 * clamped. <b>Random crop</b> resizes to {@code cropScale} times the target (default 1.125: a 224
 * crop of a 252 image) and takes a {@code height x width} window at an offset drawn from the
 * record's random; outside training, and with random crop on, the centre window of the same
 * enlarged image is taken (objects keep the scale the model trained on). Without random crop the
 * image is resized straight to the target. Only the window is computed. <b>Channels</b>: 3 gives
 * RGB (a gray image is replicated), 1 gives luma {@code 0.299 R + 0.587 G + 0.114 B}; alpha is
 * dropped.
 *
 * <p>Draws from the random, in this order and only while training: crop row offset, crop column
 * offset (if random crop), flip (if horizontal flip). So the output is a pure function of the bytes,
 * the settings and the random's state: bitwise the same on any thread. Thread-safe: settings are
 * final, scratch buffers are per thread.
 */
public final class ImagePreprocessor {
  /** Default ratio of the enlarged image to the crop when random crop is on. */
  public static final double DEFAULT_CROP_SCALE = 1.125;
  /** Default means (ImageNet's RGB means; for 1 channel their luma). */
  public static final float[] DEFAULT_MEAN_RGB = {0.485f, 0.456f, 0.406f};
  public static final float[] DEFAULT_STD_RGB = {0.229f, 0.224f, 0.225f};
  public static final float[] DEFAULT_MEAN_GRAY = {0.449f};
  public static final float[] DEFAULT_STD_GRAY = {0.226f};

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private final int height;
  private final int width;
  private final int channels;
  private final boolean randomCrop;
  private final boolean horizontalFlip;
  private final int bigHeight;
  private final int bigWidth;
  private final float[] scale;
  private final float[] bias;
  private final ImageDecoder.Backend decoder;

  /**
   * @param mean per-channel means in [0, 1] units ({@code channels} entries), or null for the defaults
   * @param std per-channel standard deviations (> 0), or null for the defaults
   */
  public ImagePreprocessor(int height, int width, int channels, boolean randomCrop, boolean horizontalFlip,
      float[] mean, float[] std, double cropScale) {
    this(height, width, channels, randomCrop, horizontalFlip, mean, std, cropScale, ImageDecoder.Backend.TENSORFLOW);
  }

  /** As above, decoding with {@code decoder}. */
  public ImagePreprocessor(int height, int width, int channels, boolean randomCrop, boolean horizontalFlip,
      float[] mean, float[] std, double cropScale, ImageDecoder.Backend decoder) {
    this.decoder = java.util.Objects.requireNonNull(decoder, "decoder");
    this.height = InvalidSettingException.atLeast("height", height, 1);
    this.width = InvalidSettingException.atLeast("width", width, 1);
    if (channels != 1 && channels != 3) {
      throw new InvalidSettingException("channels", channels, "must be 3 (RGB) or 1 (grayscale)");
    }
    this.channels = channels;
    this.randomCrop = randomCrop;
    this.horizontalFlip = horizontalFlip;
    if (!(cropScale >= 1.0) || cropScale > 4.0) {
      throw new InvalidSettingException("cropScale", cropScale, "must be in [1, 4] (1.125 resizes 10% larger than the crop)");
    }
    this.bigHeight = randomCrop ? (int) Math.round(height * cropScale) : height;
    this.bigWidth = randomCrop ? (int) Math.round(width * cropScale) : width;
    float[] m = mean != null ? mean : channels == 3 ? DEFAULT_MEAN_RGB : DEFAULT_MEAN_GRAY;
    float[] s = std != null ? std : channels == 3 ? DEFAULT_STD_RGB : DEFAULT_STD_GRAY;
    if (m.length != channels) {
      throw new InvalidSettingException("mean", Arrays.toString(m), "must have one value per channel (" + channels + ")");
    }
    if (s.length != channels) {
      throw new InvalidSettingException("std", Arrays.toString(s), "must have one value per channel (" + channels + ")");
    }
    scale = new float[channels];
    bias = new float[channels];
    for (int c = 0; c < channels; c++) {
      if (!Float.isFinite(m[c])) {
        throw new InvalidSettingException("mean", Arrays.toString(m), "must be finite numbers");
      }
      InvalidSettingException.positive("std", s[c]);
      scale[c] = 1f / (255f * s[c]);
      bias[c] = m[c] / s[c];
    }
  }

  public ImagePreprocessor(int height, int width, int channels, boolean randomCrop, boolean horizontalFlip) {
    this(height, width, channels, randomCrop, horizontalFlip, null, null, DEFAULT_CROP_SCALE);
  }

  /** Floats written per image: {@code height * width * channels}. */
  public int featureSize() {
    return height * width * channels;
  }

  /** Decodes {@code encoded} (JPEG or PNG) and writes its features at {@code out[offset..]}. */
  public void process(byte[] encoded, boolean training, SplittableRandom random, float[] out, int offset) {
    process(ImageDecoder.decode(encoded, decoder, bigWidth, bigHeight), training, random, out, offset);
  }

  /**
   * Writes the features of decoded pixels at {@code out[offset..]}. While {@code training}, random
   * crop and flip (as configured) are drawn from {@code random}; otherwise it is not touched (may be null).
   */
  public void process(Pixels src, boolean training, SplittableRandom random, float[] out, int offset) {
    int oy = (bigHeight - height) / 2;
    int ox = (bigWidth - width) / 2;
    boolean flip = false;
    if (training) {
      if (randomCrop) {
        oy = random.nextInt(bigHeight - height + 1);
        ox = random.nextInt(bigWidth - width + 1);
      }
      if (horizontalFlip) {
        flip = random.nextBoolean();
      }
    }
    Scratch s = SCRATCH.get();
    Filter fx = s.fx.build(src.width, bigWidth, ox, width);
    Filter fy = s.fy.build(src.height, bigHeight, oy, height);
    int rowFrom = fy.start[0];
    int rowTo = fy.start[height - 1] + fy.count[height - 1];
    int rowLen = width * channels;
    float[] tmp = s.rows((rowTo - rowFrom) * rowLen);
    horizontal(src, fx, rowFrom, rowTo, tmp);
    // Vertical pass, then normalise; a flip mirrors the columns as they are written.
    for (int y = 0; y < height; y++) {
      int taps = fy.count[y];
      int wBase = y * fy.maxTaps;
      int rBase = (fy.start[y] - rowFrom) * rowLen;
      int outRow = offset + y * rowLen;
      for (int x = 0; x < width; x++) {
        int dst = outRow + (flip ? width - 1 - x : x) * channels;
        for (int c = 0; c < channels; c++) {
          int t = rBase + x * channels + c;
          float v = 0f;
          for (int k = 0; k < taps; k++) {
            v += fy.weights[wBase + k] * tmp[t + k * rowLen];
          }
          out[dst + c] = v * scale[c] - bias[c];
        }
      }
    }
  }

  /** Resamples source rows {@code [rowFrom, rowTo)} horizontally into {@code tmp} (floats in 0..255). */
  private void horizontal(Pixels src, Filter fx, int rowFrom, int rowTo, float[] tmp) {
    byte[] d = src.data;
    int ps = src.pixelStride;
    int[] b = src.bands;
    boolean gray = b.length == 1;
    int rowLen = width * channels;
    for (int y = rowFrom; y < rowTo; y++) {
      int row = src.offset + y * src.rowStride;
      int t = (y - rowFrom) * rowLen;
      for (int x = 0; x < width; x++) {
        int taps = fx.count[x];
        int wBase = x * fx.maxTaps;
        int p = row + fx.start[x] * ps;
        if (gray) {
          float v = 0f;
          for (int k = 0; k < taps; k++, p += ps) {
            v += fx.weights[wBase + k] * (d[p + b[0]] & 0xff);
          }
          for (int c = 0; c < channels; c++) {
            tmp[t++] = v;
          }
        } else {
          float r = 0f;
          float g = 0f;
          float bl = 0f;
          for (int k = 0; k < taps; k++, p += ps) {
            float w = fx.weights[wBase + k];
            r += w * (d[p + b[0]] & 0xff);
            g += w * (d[p + b[1]] & 0xff);
            bl += w * (d[p + b[2]] & 0xff);
          }
          if (channels == 3) {
            tmp[t++] = r;
            tmp[t++] = g;
            tmp[t++] = bl;
          } else {
            tmp[t++] = 0.299f * r + 0.587f * g + 0.114f * bl;
          }
        }
      }
    }
  }

  /**
   * The taps of a 1-D resize from {@code in} to {@code out} samples, for outputs
   * {@code [from, from + n)}: output {@code i} reads inputs {@code start[i] .. start[i]+count[i]-1}
   * with normalised triangle weights.
   */
  static final class Filter {
    int[] start = new int[0];
    int[] count = new int[0];
    float[] weights = new float[0];
    int maxTaps;

    Filter build(int in, int out, int from, int n) {
      double scale = (double) in / out;
      double support = Math.max(1.0, scale);
      maxTaps = (int) Math.ceil(support) * 2 + 1;
      if (start.length < n) {
        start = new int[n];
        count = new int[n];
      }
      if (weights.length < n * maxTaps) {
        weights = new float[n * maxTaps];
      }
      for (int i = 0; i < n; i++) {
        double center = (from + i + 0.5) * scale - 0.5;
        int lo = Math.max(0, (int) Math.ceil(center - support));
        int hi = Math.min(in - 1, (int) Math.floor(center + support));
        if (lo > hi) { // a centre beyond the edge: the edge pixel alone
          lo = hi = Math.min(in - 1, Math.max(0, (int) Math.round(center)));
        }
        double sum = 0;
        int base = i * maxTaps;
        int k = 0;
        for (int j = lo; j <= hi && k < maxTaps; j++, k++) {
          double w = Math.max(0.0, 1.0 - Math.abs(j - center) / support);
          weights[base + k] = (float) w;
          sum += w;
        }
        if (sum <= 0) {
          weights[base] = 1f;
          k = 1;
          sum = 1;
        }
        for (int q = 0; q < k; q++) {
          weights[base + q] = (float) (weights[base + q] / sum);
        }
        // Drop zero-weight taps at both ends so the passes skip them.
        int first = 0;
        while (first < k - 1 && weights[base + first] == 0f) {
          first++;
        }
        int last = k - 1;
        while (last > first && weights[base + last] == 0f) {
          last--;
        }
        if (first > 0) {
          System.arraycopy(weights, base + first, weights, base, last - first + 1);
        }
        start[i] = lo + first;
        count[i] = last - first + 1;
      }
      return this;
    }
  }

  /** One thread's buffers; they only grow. */
  private static final class Scratch {
    final Filter fx = new Filter();
    final Filter fy = new Filter();
    float[] rows = new float[0];

    float[] rows(int n) {
      if (rows.length < n) {
        rows = new float[n];
      }
      return rows;
    }
  }
}
