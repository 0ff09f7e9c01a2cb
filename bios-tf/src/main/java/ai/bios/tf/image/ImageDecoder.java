package ai.bios.tf.image;

import ai.bios.tf.BadInputException;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBufferByte;
import java.awt.image.PixelInterleavedSampleModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.util.Iterator;
import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.spi.ImageReaderSpi;
import javax.imageio.stream.ImageInputStreamImpl;

/**
 * Decodes JPEG and PNG bytes to {@link Pixels}, with TensorFlow's kernels ({@link Backend#TENSORFLOW},
 * the default: libjpeg-turbo and libpng, see {@code TfImageDecoder}) or the JDK's
 * {@code javax.imageio} readers ({@link Backend#IMAGEIO}). The format comes from the magic bytes,
 * not a file name. Stateless and thread-safe; both backends give bitwise the same pixels for the
 * same bytes on every thread and run (integer IDCT), and the same pixels as each other for PNG.
 *
 * <p>Bytes that are empty, not an image, of another format, truncated or corrupt fail with a
 * {@link BadInputException} saying which, with the first bytes in hex and the fix; an ImageIO
 * decoder warning (libjpeg's "premature end of data", say) is an error too, never a half-grey image.
 *
 * <p><b>Why TensorFlow by default</b> ({@code examples/bin/run-example ImageDecodeBench}; 2-core AMD
 * EPYC shared with other builds; 200 {@code ImageFolder} pictures 96-320 px, JPEG quality 85-95,
 * 7.9 KB on average, the same as PNG, 95 KB; output 96x96x3; images per CPU-second of the whole
 * process, 1 and 2 threads, ranges over three runs): decoding alone is a tie for JPEG (TensorFlow
 * 3,700-4,780, ImageIO 2,750-4,550) and for PNG (1,235-1,345 vs 720-1,320), but TensorFlow's DecodeJpeg can
 * decode at 1/2, 1/4 or 1/8 scale inside the IDCT, which ImageIO cannot, so the whole path (decode,
 * resize, normalise) runs at 2,750-3,200 JPEGs per CPU-second against 1,840-1,980 (PNG: 925-965 vs
 * 895-1,010, a tie); the gain grows with the photo's size. The cost: one Graph and Session per JVM
 * (shared by all threads, run on the caller's thread, closed at exit), about 100 us per call against
 * 30 us, and libjpeg's messages on stderr for corrupt files. ImageIO needs no native resource and
 * stays as the {@code decoder=imageio} setting. {@code ImageIO.read} itself (a file-backed stream
 * cache and a service lookup per call) is slower: 1,460-1,640 JPEGs and 370-420 PNGs per
 * CPU-second with the same resize; an EagerSession costs about 530 us per call.
 */
public final class ImageDecoder {
  /** The formats read. */
  public enum Format { JPEG, PNG }

  /** Which library decodes: TensorFlow's kernels (libjpeg-turbo, libpng; the default) or the JDK's ImageIO. */
  public enum Backend {
    TENSORFLOW, IMAGEIO;

    /** "tensorflow" or "imageio" (any case); throws naming the setting otherwise. */
    public static Backend parse(String setting, String value) {
      for (Backend b : values()) {
        if (b.name().equalsIgnoreCase(value == null ? "" : value.trim())) {
          return b;
        }
      }
      throw new ai.bios.tf.InvalidSettingException(setting, value, "must be \"tensorflow\" or \"imageio\"");
    }
  }

  /**
   * Images with more pixels than this are refused before decoding, by either backend, from the size
   * in their header (JPEG's frame header, PNG's IHDR): a decompression bomb, or a mistake.
   */
  public static final long MAX_PIXELS = 1L << 27;

  /** ImageIO's readers, looked up on the first ImageIO decode only (not for the TensorFlow backend). */
  private static final class Readers {
    static final ImageReaderSpi JPEG = spi("jpeg");
    static final ImageReaderSpi PNG = spi("png");
  }

  private ImageDecoder() {}

  /** The format of {@code bytes} from its magic bytes; throws naming what the bytes look like instead. */
  public static Format detect(byte[] bytes) {
    if (bytes == null || bytes.length == 0) {
      throw new BadInputException("the image bytes are empty (0 bytes); the column must hold the encoded "
          + "file's bytes (spark.read.format(\"binaryFile\") gives them in `content`); drop empty rows");
    }
    if (bytes.length >= 3 && (bytes[0] & 0xff) == 0xFF && (bytes[1] & 0xff) == 0xD8 && (bytes[2] & 0xff) == 0xFF) {
      return Format.JPEG;
    }
    if (bytes.length >= 8 && (bytes[0] & 0xff) == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G'
        && bytes[4] == 0x0D && bytes[5] == 0x0A && bytes[6] == 0x1A && bytes[7] == 0x0A) {
      return Format.PNG;
    }
    String kind = otherFormat(bytes);
    throw new BadInputException((kind == null ? "not an image" : "unsupported image format " + kind)
        + ": " + describe(bytes) + "; only JPEG (starts ff d8 ff) and PNG (starts 89 50 4e 47) are read: "
        + (kind == null ? "check the column holds the encoded file bytes, or filter such rows out"
            : "convert the images to JPEG or PNG, or filter such rows out"));
  }

  /** Decodes {@code bytes} (JPEG or PNG) to RGB or gray pixels with TensorFlow's kernels. */
  public static Pixels decode(byte[] bytes) {
    return decode(bytes, Backend.TENSORFLOW);
  }

  /** Decodes {@code bytes} (JPEG or PNG) to RGB or gray pixels with {@code backend}, at full size. */
  public static Pixels decode(byte[] bytes, Backend backend) {
    return decode(bytes, backend, Integer.MAX_VALUE, Integer.MAX_VALUE);
  }

  /**
   * Decodes {@code bytes} (JPEG or PNG) with {@code backend}; the TensorFlow backend may decode a
   * JPEG at 1/2, 1/4 or 1/8 scale when that still gives at least {@code minWidth x minHeight}.
   */
  public static Pixels decode(byte[] bytes, Backend backend, int minWidth, int minHeight) {
    Format format = detect(bytes);
    int[] size = headerSize(bytes, format);
    return backend == Backend.TENSORFLOW ? TfImageDecoder.decode(bytes, format, size, minWidth, minHeight)
        : decodeImageIo(bytes, format);
  }

  /**
   * {@code bytes}' {width, height} from its header, read before any decoder allocates: throws when
   * the header is missing (the decoders would fail on it too) or the image has more than
   * {@link #MAX_PIXELS} pixels.
   */
  static int[] headerSize(byte[] bytes, Format format) {
    int[] size = format == Format.JPEG ? jpegSize(bytes) : pngSize(bytes);
    if (size == null) {
      throw new BadInputException("truncated or corrupt " + format + " image (no "
          + (format == Format.JPEG ? "frame header before the image data" : "IHDR header") + "): "
          + describe(bytes) + "; re-encode the file or filter such rows out");
    }
    if ((long) size[0] * size[1] > MAX_PIXELS) {
      throw new BadInputException(format + " image of " + size[0] + "x" + size[1] + " pixels (" + (long) size[0] * size[1]
          + ", from its header) is larger than the " + MAX_PIXELS + " pixels Bios decodes, so it is refused before "
          + "decoding: " + describe(bytes) + "; downscale such files first or filter them out");
    }
    return size;
  }

  /** A PNG's {width, height} from its IHDR chunk (the first, right after the signature), or null. */
  static int[] pngSize(byte[] b) {
    if (b.length < 24 || b[12] != 'I' || b[13] != 'H' || b[14] != 'D' || b[15] != 'R') {
      return null;
    }
    long w = uint32(b, 16);
    long h = uint32(b, 20);
    return w > 0 && h > 0 && w <= Integer.MAX_VALUE && h <= Integer.MAX_VALUE ? new int[] {(int) w, (int) h} : null;
  }

  private static long uint32(byte[] b, int at) {
    return ((long) (b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
  }

  /**
   * A JPEG's {width, height} from its frame header, or null when there is none before the scan (or
   * its height is 0, which libjpeg does not decode). Bytes other than 0xFF between segments are
   * skipped, as libjpeg skips them, so junk cannot hide the header from this check.
   */
  static int[] jpegSize(byte[] b) {
    int p = 2;
    while (p + 3 < b.length) {
      if ((b[p] & 0xff) != 0xFF) { // extraneous data before a marker
        p++;
        continue;
      }
      int m = b[p + 1] & 0xff;
      if (m == 0xFF) { // fill byte
        p++;
        continue;
      }
      if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { // a stuffed zero, TEM, RSTn, SOI: no length
        p += 2;
        continue;
      }
      int len = ((b[p + 2] & 0xff) << 8) | (b[p + 3] & 0xff);
      if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
        if (p + 8 >= b.length) {
          return null;
        }
        int h = ((b[p + 5] & 0xff) << 8) | (b[p + 6] & 0xff);
        int w = ((b[p + 7] & 0xff) << 8) | (b[p + 8] & 0xff);
        return w > 0 && h > 0 ? new int[] {w, h} : null;
      }
      if (m == 0xDA || m == 0xD9 || len < 2) { // the scan or the end came first
        return null;
      }
      p += 2 + len;
    }
    return null;
  }

  private static Pixels decodeImageIo(byte[] bytes, Format format) {
    ImageReader reader;
    try {
      reader = (format == Format.JPEG ? Readers.JPEG : Readers.PNG).createReaderInstance();
    } catch (IOException e) {
      throw new IllegalStateException("cannot create an ImageIO " + format + " reader", e);
    }
    String[] warning = new String[1];
    try {
      reader.setInput(new BytesInput(bytes), true, true);
      reader.addIIOReadWarningListener(new IIOReadWarningListener() {
        @Override
        public void warningOccurred(ImageReader source, String message) {
          if (warning[0] == null) {
            warning[0] = message;
          }
        }
      });
      BufferedImage image = reader.read(0);
      if (warning[0] != null) {
        throw new BadInputException("truncated or corrupt " + format + " image (decoder warning: " + warning[0]
            + "): " + describe(bytes) + "; re-encode the file or filter such rows out");
      }
      return pixels(image);
    } catch (IOException | RuntimeException e) {
      if (e instanceof BadInputException) {
        throw (BadInputException) e;
      }
      String why = e instanceof IIOException && e.getMessage() != null && e.getMessage().contains("Unsupported Image Type")
          ? "unsupported " + format + " variant (" + e.getMessage() + ": CMYK or YCCK?)"
          : "truncated or corrupt " + format + " image (" + e + ")";
      throw new BadInputException(why + ": " + describe(bytes)
          + "; re-encode the file as an 8-bit RGB or gray JPEG/PNG, or filter such rows out", e);
    } finally {
      reader.dispose();
    }
  }

  /**
   * A view of an ImageIO image's pixels: without copying when its raster is 8-bit interleaved RGB or
   * gray, else converted to packed sRGB.
   */
  public static Pixels pixels(BufferedImage image) {
    Raster raster = image.getRaster();
    int w = image.getWidth();
    int h = image.getHeight();
    if (raster.getDataBuffer() instanceof DataBufferByte db && db.getNumBanks() == 1
        && raster.getSampleModel() instanceof PixelInterleavedSampleModel sm
        && image.getColorModel() instanceof ComponentColorModel cm
        && (cm.getColorSpace().isCS_sRGB() || cm.getColorSpace().getType() == ColorSpace.TYPE_GRAY)
        && cm.getNumColorComponents() == (cm.getColorSpace().isCS_sRGB() ? 3 : 1)
        && allEight(sm.getSampleSize())) {
      int[] offsets = sm.getBandOffsets();
      int[] bands = java.util.Arrays.copyOf(offsets, cm.getNumColorComponents());
      int offset = db.getOffset() - raster.getSampleModelTranslateY() * sm.getScanlineStride()
          - raster.getSampleModelTranslateX() * sm.getPixelStride();
      return new Pixels(db.getData(), offset, w, h, sm.getPixelStride(), sm.getScanlineStride(), bands);
    }
    // Palette, 16-bit or other layouts: through ImageIO's own conversion to sRGB.
    int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
    byte[] rgb = new byte[w * h * 3];
    for (int i = 0; i < argb.length; i++) {
      int p = argb[i];
      rgb[3 * i] = (byte) (p >> 16);
      rgb[3 * i + 1] = (byte) (p >> 8);
      rgb[3 * i + 2] = (byte) p;
    }
    return Pixels.packed(rgb, w, h, 3);
  }

  private static boolean allEight(int[] sizes) {
    for (int s : sizes) {
      if (s != 8) {
        return false;
      }
    }
    return true;
  }

  /** "1234 bytes starting 47 49 46 38 ...". */
  static String describe(byte[] bytes) {
    StringBuilder s = new StringBuilder().append(bytes.length).append(" bytes starting");
    for (int i = 0; i < Math.min(16, bytes.length); i++) {
      s.append(' ').append(Character.forDigit((bytes[i] >> 4) & 0xf, 16)).append(Character.forDigit(bytes[i] & 0xf, 16));
    }
    return s.toString();
  }

  private static String otherFormat(byte[] b) {
    if (startsWith(b, "GIF8")) {
      return "GIF";
    } else if (startsWith(b, "BM")) {
      return "BMP";
    } else if (startsWith(b, "RIFF") && b.length >= 12 && new String(b, 8, 4, java.nio.charset.StandardCharsets.ISO_8859_1).equals("WEBP")) {
      return "WebP";
    } else if (startsWith(b, "II*\0") || startsWith(b, "MM\0*")) {
      return "TIFF";
    } else if (b.length >= 12 && new String(b, 4, 4, java.nio.charset.StandardCharsets.ISO_8859_1).equals("ftyp")) {
      return "HEIF/AVIF";
    }
    return null;
  }

  private static boolean startsWith(byte[] b, String magic) {
    if (b.length < magic.length()) {
      return false;
    }
    for (int i = 0; i < magic.length(); i++) {
      if (b[i] != (byte) magic.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private static ImageReaderSpi spi(String format) {
    Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(format);
    if (!readers.hasNext()) {
      throw new IllegalStateException("this JVM has no ImageIO " + format + " reader (java.desktop module missing?)");
    }
    ImageReader r = readers.next();
    ImageReaderSpi spi = r.getOriginatingProvider();
    r.dispose();
    return spi;
  }

  /** An ImageInputStream over a byte array (ImageIO's own streams copy into a cache). */
  private static final class BytesInput extends ImageInputStreamImpl {
    private final byte[] bytes;

    BytesInput(byte[] bytes) {
      this.bytes = bytes;
    }

    @Override
    public int read() {
      bitOffset = 0;
      return streamPos < bytes.length ? bytes[(int) streamPos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      bitOffset = 0;
      if (len == 0) {
        return 0;
      }
      int left = (int) Math.max(0, bytes.length - streamPos);
      if (left == 0) {
        return -1;
      }
      int n = Math.min(len, left);
      System.arraycopy(bytes, (int) streamPos, b, off, n);
      streamPos += n;
      return n;
    }

    @Override
    public long length() {
      return bytes.length;
    }
  }
}
