package ai.bios.tf.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BadInputException;
import ai.bios.tf.InvalidSettingException;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import ai.bios.tf.image.ImageDecoder.Backend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ImagePreprocessorTest {
  private static final float[] ZERO = {0f, 0f, 0f};
  private static final float[] ONE = {1f, 1f, 1f};

  /** A smooth picture with some texture: RGB of pixel (x, y), deterministic. */
  static BufferedImage picture(int w, int h, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    double p = r.nextDouble() * 6;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int red = (int) (128 + 100 * Math.sin(x * 0.11 + p));
        int green = (int) (128 + 100 * Math.cos(y * 0.07 + p));
        int blue = (x * 255 / w + y * 255 / h) / 2;
        img.setRGB(x, y, (red << 16) | (green << 8) | blue);
      }
    }
    return img;
  }

  static byte[] encode(BufferedImage img, String format, float quality) throws IOException {
    ImageWriter writer = ImageIO.getImageWritersByFormatName(format).next();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
      writer.setOutput(out);
      ImageWriteParam param = writer.getDefaultWriteParam();
      if (format.equals("jpeg")) {
        param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        param.setCompressionQuality(quality);
      }
      writer.write(null, new IIOImage(img, null, null), param);
    } finally {
      writer.dispose();
    }
    return bytes.toByteArray();
  }

  private static BufferedImage rgbCopy(BufferedImage src, int type) {
    BufferedImage img = new BufferedImage(src.getWidth(), src.getHeight(), type);
    img.getGraphics().drawImage(src, 0, 0, null);
    return img;
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void pngDecodesToTheExactPixelsItEncodes(Backend backend) throws IOException {
    BufferedImage img = picture(37, 23, 1);
    Pixels px = ImageDecoder.decode(encode(img, "png", 0), backend);
    assertEquals(37, px.width());
    assertEquals(23, px.height());
    assertEquals(3, px.channels());
    for (int y = 0; y < 23; y++) {
      for (int x = 0; x < 37; x++) {
        int rgb = img.getRGB(x, y);
        assertEquals((rgb >> 16) & 0xff, px.get(x, y, 0), "R at " + x + "," + y);
        assertEquals((rgb >> 8) & 0xff, px.get(x, y, 1), "G at " + x + "," + y);
        assertEquals(rgb & 0xff, px.get(x, y, 2), "B at " + x + "," + y);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void jpegDecodesCloseToThePictureItEncodes(Backend backend) throws IOException {
    BufferedImage img = picture(64, 48, 2);
    Pixels px = ImageDecoder.decode(encode(rgbCopy(img, BufferedImage.TYPE_3BYTE_BGR), "jpeg", 0.95f), backend);
    assertEquals(64, px.width());
    double sum = 0;
    int max = 0;
    for (int y = 0; y < 48; y++) {
      for (int x = 0; x < 64; x++) {
        int rgb = img.getRGB(x, y);
        for (int c = 0; c < 3; c++) {
          int d = Math.abs(((rgb >> (16 - 8 * c)) & 0xff) - px.get(x, y, c));
          sum += d;
          max = Math.max(max, d);
        }
      }
    }
    assertTrue(sum / (64 * 48 * 3) < 3, "mean abs error " + sum / (64 * 48 * 3));
    assertTrue(max < 40, "max abs error " + max);
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void grayPngIsOneChannelAndBecomesThreeEqualChannelsOrStaysOne(Backend backend) throws IOException {
    BufferedImage gray = rgbCopy(picture(20, 10, 3), BufferedImage.TYPE_BYTE_GRAY);
    byte[] png = encode(gray, "png", 0);
    Pixels px = ImageDecoder.decode(png, backend);
    assertEquals(1, px.channels());
    assertEquals(gray.getRaster().getSample(7, 4, 0), px.get(7, 4, 0));
    float[] rgb = new float[20 * 10 * 3];
    new ImagePreprocessor(10, 20, 3, false, false, ZERO, ONE, 1.125, backend).process(png, false, null, rgb, 0);
    float[] one = new float[20 * 10];
    new ImagePreprocessor(10, 20, 1, false, false, new float[] {0f}, new float[] {1f}, 1.125, backend).process(png, false, null, one, 0);
    for (int i = 0; i < one.length; i++) {
      assertEquals(one[i], rgb[3 * i]);
      assertEquals(one[i], rgb[3 * i + 1]);
      assertEquals(one[i], rgb[3 * i + 2]);
      assertEquals(gray.getRaster().getSample(i % 20, i / 20, 0) / 255f, one[i], 1e-6f, "same size is the identity");
    }
  }

  @Test
  void grayscaleOutputOfAColourImageIsItsLuma() throws IOException {
    BufferedImage img = picture(16, 16, 4);
    float[] out = new float[16 * 16];
    new ImagePreprocessor(16, 16, 1, false, false, new float[] {0f}, new float[] {1f}, 1.125)
        .process(encode(img, "png", 0), false, null, out, 0);
    for (int y = 0; y < 16; y++) {
      for (int x = 0; x < 16; x++) {
        int rgb = img.getRGB(x, y);
        double luma = 0.299 * ((rgb >> 16) & 0xff) + 0.587 * ((rgb >> 8) & 0xff) + 0.114 * (rgb & 0xff);
        assertEquals(luma / 255, out[y * 16 + x], 1e-5);
      }
    }
  }

  /** The resize against a direct 2-D evaluation, in doubles, of the triangle filter the class documents. */
  @Test
  void resizeMatchesADirectReferenceWhenShrinkingAndEnlarging() throws IOException {
    BufferedImage img = picture(50, 30, 5);
    Pixels px = ImageDecoder.decode(encode(img, "png", 0));
    float[] mean = {0.5f, 0.4f, 0.3f};
    float[] std = {0.2f, 0.25f, 0.3f};
    for (int[] size : new int[][] {{13, 17}, {30, 50}, {45, 71}, {7, 5}}) {
      int h = size[0];
      int w = size[1];
      float[] out = new float[h * w * 3 + 4];
      new ImagePreprocessor(h, w, 3, false, false, mean, std, 1.125).process(px, false, null, out, 4);
      double[][] wy = reference(30, h);
      double[][] wx = reference(50, w);
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          for (int c = 0; c < 3; c++) {
            double v = 0;
            for (int i = 0; i < 30; i++) {
              for (int j = 0; j < 50; j++) {
                v += wy[y][i] * wx[x][j] * px.get(j, i, c);
              }
            }
            double expected = (v / 255 - mean[c]) / std[c];
            assertEquals(expected, out[4 + (y * w + x) * 3 + c], 2e-4, h + "x" + w + " at " + x + "," + y + "," + c);
          }
        }
      }
    }
  }

  /** weights[o][i]: output o's weight on input i (triangle of radius max(1, in/out), clipped, normalised). */
  private static double[][] reference(int in, int out) {
    double scale = (double) in / out;
    double radius = Math.max(1, scale);
    double[][] w = new double[out][in];
    for (int o = 0; o < out; o++) {
      double center = (o + 0.5) * scale - 0.5;
      double sum = 0;
      for (int i = 0; i < in; i++) {
        w[o][i] = Math.max(0, 1 - Math.abs(i - center) / radius);
        sum += w[o][i];
      }
      for (int i = 0; i < in; i++) {
        w[o][i] /= sum;
      }
    }
    return w;
  }

  @Test
  void flipIsDrawnFromTheRandomAndMirrorsTheRows() throws IOException {
    byte[] jpeg = encode(rgbCopy(picture(40, 30, 6), BufferedImage.TYPE_3BYTE_BGR), "jpeg", 0.9f);
    ImagePreprocessor flip = new ImagePreprocessor(12, 16, 3, false, true);
    float[] plain = new float[flip.featureSize()];
    flip.process(jpeg, false, null, plain, 0);
    int flipped = 0;
    for (long seed = 0; seed < 8; seed++) {
      float[] out = new float[flip.featureSize()];
      flip.process(jpeg, true, new SplittableRandom(seed), out, 0);
      boolean expectFlip = new SplittableRandom(seed).nextBoolean();
      flipped += expectFlip ? 1 : 0;
      for (int y = 0; y < 12; y++) {
        for (int x = 0; x < 16; x++) {
          int src = expectFlip ? 15 - x : x;
          for (int c = 0; c < 3; c++) {
            assertEquals(plain[(y * 16 + src) * 3 + c], out[(y * 16 + x) * 3 + c], "seed " + seed);
          }
        }
      }
    }
    assertTrue(flipped > 0 && flipped < 8, "the seeds exercise both branches");
  }

  @Test
  void randomCropIsAWindowOfTheEnlargedImageAndInferenceTakesItsCentre() throws IOException {
    byte[] png = encode(picture(60, 44, 7), "png", 0);
    ImagePreprocessor crop = new ImagePreprocessor(16, 24, 3, true, false);
    int bigH = 18; // round(16 * 1.125)
    int bigW = 27; // round(24 * 1.125)
    float[] big = new float[bigH * bigW * 3];
    new ImagePreprocessor(bigH, bigW, 3, false, false).process(png, false, null, big, 0);
    for (long seed = 0; seed < 5; seed++) {
      SplittableRandom expected = new SplittableRandom(seed);
      int oy = expected.nextInt(bigH - 16 + 1);
      int ox = expected.nextInt(bigW - 24 + 1);
      float[] out = new float[crop.featureSize()];
      crop.process(png, true, new SplittableRandom(seed), out, 0);
      assertArrayEquals(window(big, bigW, oy, ox, 16, 24), out, "seed " + seed + ": window at " + oy + "," + ox);
    }
    float[] centre = new float[crop.featureSize()];
    crop.process(png, false, null, centre, 0);
    assertArrayEquals(window(big, bigW, 1, 1, 16, 24), centre);
  }

  private static float[] window(float[] big, int bigW, int oy, int ox, int h, int w) {
    float[] out = new float[h * w * 3];
    for (int y = 0; y < h; y++) {
      System.arraycopy(big, ((y + oy) * bigW + ox) * 3, out, y * w * 3, w * 3);
    }
    return out;
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void sameBytesAndRandomGiveBitwiseTheSameFloatsOnAnyThread(Backend backend) throws Exception {
    List<byte[]> images = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      BufferedImage img = picture(40 + 13 * i, 30 + 7 * i, i);
      images.add(i % 3 == 0 ? encode(img, "png", 0) : encode(rgbCopy(img, BufferedImage.TYPE_3BYTE_BGR), "jpeg", 0.9f));
    }
    ImagePreprocessor p = new ImagePreprocessor(20, 28, 3, true, true, null, null, 1.125, backend);
    float[][] serial = new float[images.size()][p.featureSize()];
    for (int i = 0; i < images.size(); i++) {
      p.process(images.get(i), true, new SplittableRandom(100 + i), serial[i], 0);
    }
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<float[]>> results = new ArrayList<>();
      for (int rep = 0; rep < 4; rep++) {
        for (int i = images.size() - 1; i >= 0; i--) {
          int k = i;
          results.add(pool.submit(() -> {
            float[] out = new float[p.featureSize()];
            p.process(images.get(k), true, new SplittableRandom(100 + k), out, 0);
            return out;
          }));
        }
      }
      for (int j = 0; j < results.size(); j++) {
        int k = images.size() - 1 - j % images.size();
        assertArrayEquals(serial[k], results.get(j).get(), "image " + k);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void sparkImageStructInBgrOrderGivesTheSameFloatsAsTheDecodedPng() throws IOException {
    BufferedImage img = picture(30, 20, 8);
    byte[] bgr = new byte[30 * 20 * 3];
    for (int y = 0; y < 20; y++) {
      for (int x = 0; x < 30; x++) {
        int rgb = img.getRGB(x, y);
        int i = (y * 30 + x) * 3;
        bgr[i] = (byte) rgb;
        bgr[i + 1] = (byte) (rgb >> 8);
        bgr[i + 2] = (byte) (rgb >> 16);
      }
    }
    ImagePreprocessor p = new ImagePreprocessor(9, 11, 3, false, false);
    float[] fromPng = new float[p.featureSize()];
    p.process(encode(img, "png", 0), false, null, fromPng, 0);
    float[] fromStruct = new float[p.featureSize()];
    p.process(Pixels.sparkImage(20, 30, 3, bgr), false, null, fromStruct, 0);
    assertArrayEquals(fromPng, fromStruct);
    BadInputException e = assertThrows(BadInputException.class, () -> Pixels.sparkImage(20, 30, 3, new byte[5]));
    assertTrue(e.getMessage().contains("5 bytes") && e.getMessage().contains("1800"), e.getMessage());
  }

  @ParameterizedTest
  @EnumSource(Backend.class)
  void badBytesFailSayingWhatIsWrongWithTheFirstBytesInHex(Backend backend) throws IOException {
    byte[] jpeg = encode(rgbCopy(picture(64, 64, 9), BufferedImage.TYPE_3BYTE_BGR), "jpeg", 0.9f);
    byte[] png = encode(picture(64, 64, 9), "png", 0);
    assertMessage(backend, new byte[0], "empty");
    assertMessage(backend, null, "empty");
    assertMessage(backend, "hello, world".getBytes(java.nio.charset.StandardCharsets.US_ASCII), "not an image", "68 65 6c 6c 6f");
    assertMessage(backend, "GIF89a\u0001\u0000".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), "unsupported image format GIF", "47 49 46 38");
    assertMessage(backend, Arrays.copyOf(jpeg, jpeg.length / 2), "truncated or corrupt JPEG", "ff d8 ff");
    assertMessage(backend, Arrays.copyOf(jpeg, 40), "truncated or corrupt JPEG", "ff d8 ff");
    assertMessage(backend, Arrays.copyOf(png, png.length / 2), "truncated or corrupt PNG", "89 50 4e 47");
    assertMessage(backend, Arrays.copyOf(png, 12), "truncated or corrupt PNG", "89 50 4e 47");
    byte[] garbled = jpeg.clone();
    for (int i = garbled.length / 3; i < garbled.length / 3 + 200; i++) {
      garbled[i] = (byte) 0xFF;
    }
    assertMessage(backend, garbled, "corrupt JPEG", "ff d8 ff");
  }

  private static void assertMessage(Backend backend, byte[] bytes, String... parts) {
    ImagePreprocessor p = new ImagePreprocessor(8, 8, 3, false, false, null, null, 1.125, backend);
    BadInputException e = assertThrows(BadInputException.class,
        () -> p.process(bytes, false, null, new float[p.featureSize()], 0));
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' missing from: " + e.getMessage());
    }
  }

  /** The TensorFlow backend decodes a large JPEG at a DCT scale; the result stays close to a full decode. */
  @Test
  void scaledJpegDecodeAgreesWithAFullDecodeAndTheHeaderSizeIsRead() throws IOException {
    byte[] jpeg = encode(rgbCopy(picture(256, 200, 10), BufferedImage.TYPE_3BYTE_BGR), "jpeg", 0.92f);
    assertArrayEquals(new int[] {256, 200}, ImageDecoder.jpegSize(jpeg));
    assertEquals(null, ImageDecoder.jpegSize(Arrays.copyOf(jpeg, 4)));
    float[] scaled = new float[24 * 24 * 3];
    new ImagePreprocessor(24, 24, 3, false, false, ZERO, ONE, 1.125, Backend.TENSORFLOW).process(jpeg, false, null, scaled, 0);
    float[] full = new float[24 * 24 * 3];
    new ImagePreprocessor(24, 24, 3, false, false, ZERO, ONE, 1.125, Backend.IMAGEIO).process(jpeg, false, null, full, 0);
    double diff = 0;
    for (int i = 0; i < full.length; i++) {
      diff += Math.abs(full[i] - scaled[i]);
    }
    assertTrue(diff / full.length < 0.02, "mean difference " + diff / full.length + " of [0, 1] values");
    assertEquals(32, ImageDecoder.decode(jpeg, Backend.TENSORFLOW, 24, 24).width(), "decoded at 1/8 scale");
    assertEquals(256, ImageDecoder.decode(jpeg, Backend.TENSORFLOW).width());
  }

  /** {@code bytes} with the 32-bit big-endian {@code value} at {@code at}. */
  private static byte[] withInt(byte[] bytes, int at, int value, int width) {
    byte[] b = bytes.clone();
    for (int i = 0; i < width; i++) {
      b[at + i] = (byte) (value >>> (8 * (width - 1 - i)));
    }
    return b;
  }

  /**
   * A JPEG and a PNG whose headers claim 60000 x 60000 pixels (the PNG's IHDR with a valid CRC, so
   * libpng would accept it) are refused from the header, by both backends, before a decoder runs:
   * their data is a 64 x 48 image's, so a decode would have failed as corrupt instead.
   */
  @ParameterizedTest
  @EnumSource(Backend.class)
  void aHeaderClaimingTooManyPixelsIsRefusedBeforeDecoding(Backend backend) throws IOException {
    byte[] jpeg = encode(rgbCopy(picture(64, 48, 4), BufferedImage.TYPE_3BYTE_BGR), "jpeg", 0.9f);
    int sof = 2;
    while (!((jpeg[sof] & 0xff) == 0xFF && (jpeg[sof + 1] & 0xff) == 0xC0)) {
      sof += 2 + (((jpeg[sof + 2] & 0xff) << 8) | (jpeg[sof + 3] & 0xff)); // walk the segments to SOF0
    }
    assertArrayEquals(new int[] {64, 48}, ImageDecoder.jpegSize(jpeg));
    byte[] bigJpeg = withInt(withInt(jpeg, sof + 5, 60000, 2), sof + 7, 60000, 2);
    // Junk before the frame header (libjpeg skips it with a warning) does not hide it from the check.
    byte[] junk = new byte[bigJpeg.length + 3];
    System.arraycopy(bigJpeg, 0, junk, 0, sof);
    System.arraycopy(bigJpeg, sof, junk, sof + 3, bigJpeg.length - sof);
    junk[sof] = 0x12;
    junk[sof + 1] = 0x00;
    junk[sof + 2] = 0x34;
    byte[] png = encode(picture(64, 48, 4), "png", 0);
    byte[] bigPng = withInt(withInt(png, 16, 60000, 4), 20, 60000, 4);
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(bigPng, 12, 17); // IHDR's type and 13 data bytes
    bigPng = withInt(bigPng, 29, (int) crc.getValue(), 4);
    for (byte[] bomb : List.of(bigJpeg, junk, bigPng)) {
      assertMessage(backend, bomb, "image of 60000x60000 pixels (3600000000, from its header) is larger than the "
          + ImageDecoder.MAX_PIXELS + " pixels", "refused before decoding", "downscale such files first");
      ImagePreprocessor p = new ImagePreprocessor(8, 8, 3, false, false, null, null, 1.125, backend);
      String m = assertThrows(BadInputException.class, () -> p.process(bomb, false, null, new float[192], 0)).getMessage();
      assertTrue(!m.contains("corrupt"), "refused from the header, not by a decode: " + m);
    }
    assertArrayEquals(new int[] {64, 48}, ImageDecoder.pngSize(png));
  }

  /** The JVM-wide decoder must not take the executor's GPUs (training sessions pick theirs per task). */
  @Test
  void theDecoderSessionSeesNoGpuAndRunsOnTheCallersThread() {
    org.tensorflow.proto.ConfigProto config = TfImageDecoder.config();
    assertEquals(0, config.getDeviceCountOrDefault("GPU", -1), config.toString());
    assertEquals(-1, config.getInterOpParallelismThreads());
    assertEquals(1, config.getIntraOpParallelismThreads());
  }

  /**
   * After its Session is closed (the shutdown hook ran while an input thread still decodes), a
   * decoder still gives the record's pixels, from a one-off Session, instead of an error that would
   * blame the record; and an exception without a message still gives a reason.
   */
  @Test
  void aClosedDecoderStillDecodesAndAMessagelessErrorHasAReason() throws IOException {
    byte[] png = encode(picture(40, 30, 6), "png", 0);
    byte[] jpeg = encode(rgbCopy(picture(80, 60, 6), BufferedImage.TYPE_3BYTE_BGR), "jpeg", 0.9f);
    TfImageDecoder d = new TfImageDecoder();
    d.close();
    d.close(); // idempotent
    for (byte[] bytes : List.of(png, jpeg)) {
      ImageDecoder.Format f = ImageDecoder.detect(bytes);
      Pixels expected = ImageDecoder.decode(bytes, Backend.TENSORFLOW, 20, 15);
      Pixels got = d.run(bytes, f, ImageDecoder.headerSize(bytes, f), 20, 15);
      assertEquals(expected.width(), got.width(), f.toString());
      assertEquals(expected.height(), got.height(), f.toString());
      float[] a = new float[8 * 8 * 3];
      float[] b = new float[8 * 8 * 3];
      ImagePreprocessor p = new ImagePreprocessor(8, 8, 3, false, false);
      p.process(expected, false, null, a, 0);
      p.process(got, false, null, b, 0);
      assertArrayEquals(a, b, f.toString());
    }
    assertEquals("java.lang.IllegalArgumentException", TfImageDecoder.firstLine(new IllegalArgumentException()));
    assertEquals("bad data", TfImageDecoder.firstLine(new IllegalArgumentException("bad data\n\tat kernel")));
  }

  @Test
  void badSettingsNameTheSetting() {
    assertEquals("channels", assertThrows(InvalidSettingException.class,
        () -> new ImagePreprocessor(8, 8, 2, false, false)).setting());
    assertEquals("mean", assertThrows(InvalidSettingException.class,
        () -> new ImagePreprocessor(8, 8, 3, false, false, new float[] {0.5f}, null, 1.125)).setting());
    assertEquals("std", assertThrows(InvalidSettingException.class,
        () -> new ImagePreprocessor(8, 8, 1, false, false, null, new float[] {0f}, 1.125)).setting());
    assertEquals("height", assertThrows(InvalidSettingException.class,
        () -> new ImagePreprocessor(0, 8, 3, false, false)).setting());
  }
}
