package ai.bios.tf.image;

import ai.bios.tf.BadInputException;

/**
 * A view of decoded 8-bit pixels, interleaved: the sample of channel {@code c} of pixel
 * {@code (x, y)} is {@code data[offset + y * rowStride + x * pixelStride + bandOffset(c)]}, with
 * channels in R, G, B order (a grayscale view has one channel). The view does not copy: it wraps an
 * ImageIO raster or a Spark image row's bytes, which must not change while it is in use.
 */
public final class Pixels {
  final byte[] data;
  final int offset;
  final int width;
  final int height;
  final int pixelStride;
  final int rowStride;
  /** Offsets of R, G, B (three entries) or of the gray sample (one entry) within a pixel. */
  final int[] bands;

  Pixels(byte[] data, int offset, int width, int height, int pixelStride, int rowStride, int[] bands) {
    this.data = data;
    this.offset = offset;
    this.width = width;
    this.height = height;
    this.pixelStride = pixelStride;
    this.rowStride = rowStride;
    this.bands = bands;
  }

  public int width() {
    return width;
  }

  public int height() {
    return height;
  }

  /** 3 (RGB) or 1 (gray). */
  public int channels() {
    return bands.length;
  }

  /** The 8-bit value of channel {@code c} (R, G, B order) at {@code (x, y)}. */
  public int get(int x, int y, int c) {
    return data[offset + y * rowStride + x * pixelStride + bands[c]] & 0xff;
  }

  /** Packed RGB (three bytes per pixel, row-major, no padding) or gray (one byte per pixel). */
  public static Pixels packed(byte[] data, int width, int height, int channels) {
    if (channels != 1 && channels != 3) {
      throw new BadInputException("packed pixels have " + channels + " channels; use 1 (gray) or 3 (RGB)");
    }
    checkSize(data, width, height, channels, "packed pixels");
    return new Pixels(data, 0, width, height, channels, width * channels,
        channels == 3 ? new int[] {0, 1, 2} : new int[] {0});
  }

  /**
   * Interleaved 8-bit pixels as TensorFlow's decoders return them: 1 = gray, 2 = gray + alpha,
   * 3 = RGB, 4 = RGBA (alpha is ignored).
   */
  static Pixels interleaved(byte[] data, int width, int height, int channels) {
    int[] bands = channels >= 3 ? new int[] {0, 1, 2} : new int[] {0};
    return new Pixels(data, 0, width, height, channels, width * channels, bands);
  }

  /**
   * The pixels of a Spark {@code image} struct row ({@code ImageSchema}): {@code data} is row-major
   * with {@code nChannels} interleaved bytes per pixel in OpenCV order: 1 = gray, 3 = B, G, R,
   * 4 = B, G, R, A (alpha is ignored).
   */
  public static Pixels sparkImage(int height, int width, int nChannels, byte[] data) {
    if (nChannels != 1 && nChannels != 3 && nChannels != 4) {
      throw new BadInputException("the image struct has nChannels=" + nChannels
          + "; Spark's image source writes 1 (gray), 3 (BGR) or 4 (BGRA) 8-bit channels");
    }
    checkSize(data, width, height, nChannels, "the image struct");
    int[] bands = nChannels == 1 ? new int[] {0} : new int[] {2, 1, 0};
    return new Pixels(data, 0, width, height, nChannels, width * nChannels, bands);
  }

  private static void checkSize(byte[] data, int width, int height, int channels, String what) {
    if (width <= 0 || height <= 0) {
      throw new BadInputException(what + " is " + width + "x" + height + " pixels; an image needs at least 1x1");
    }
    long need = (long) width * height * channels;
    if (data == null || data.length != need) {
      throw new BadInputException(what + " has " + (data == null ? "no" : String.valueOf(data.length))
          + " bytes of data, but " + width + "x" + height + "x" + channels + " needs " + need
          + "; the struct's height, width and nChannels must describe its data");
    }
  }
}
