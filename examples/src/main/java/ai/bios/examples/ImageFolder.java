package ai.bios.examples;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * A realistic, learnable image set: 10 classes of one shape each (circle, square, triangle, ring,
 * cross, stripes, star, crescent, diamond, checker), drawn at a random position, scale, rotation and
 * colour over a random two-colour gradient with class-independent clutter (lines, blobs) and pixel
 * noise, stored as JPEG (quality 85-95) of several sizes (96 to 320 pixels a side, not all square).
 * A small CNN learns it well, but not from a colour or a single pixel. Everything is a pure
 * function of (seed, index): image {@code i} has class {@code i % 10}.
 *
 * <pre>examples/bin/run-example ImageFolder --dir DIR [--n 1000] [--seed 7]</pre>
 * writes {@code DIR/<class>/<index>.jpg}; the class folders sort in {@link #CLASSES} order.
 */
public final class ImageFolder {
  /** The class names, which are also the folder names, in label order (they sort in this order). */
  public static final List<String> CLASSES = List.of("c0_circle", "c1_square", "c2_triangle", "c3_ring",
      "c4_cross", "c5_stripes", "c6_star", "c7_crescent", "c8_diamond", "c9_checker");
  /** The side lengths images are drawn at. */
  static final int[] SIZES = {96, 128, 160, 224, 320};

  private ImageFolder() {}

  public static void main(String[] argv) throws IOException {
    Args args = new Args(argv);
    Path dir = Path.of(args.get("dir", "target/image-folder"));
    int n = Integer.parseInt(args.get("n", "1000"));
    long seed = Long.parseLong(args.get("seed", "7"));
    args.requireConsumed();
    long t0 = System.nanoTime();
    long bytes = write(dir, n, seed);
    System.out.printf(Locale.ROOT, "{\"dir\":\"%s\",\"images\":%d,\"classes\":%d,\"bytes\":%d,\"seconds\":%.1f}%n",
        dir.toAbsolutePath(), n, CLASSES.size(), bytes, (System.nanoTime() - t0) / 1e9);
  }

  /**
   * Writes images {@code 0 .. n-1} as {@code dir/<class>/<index>.jpg} (creating the folders) and
   * returns the total bytes written. The same (n, seed) always writes the same files.
   */
  public static long write(Path dir, int n, long seed) throws IOException {
    for (String c : CLASSES) {
      Files.createDirectories(dir.resolve(c));
    }
    long total = 0;
    for (int i = 0; i < n; i++) {
      byte[] jpeg = jpeg(i, seed);
      Files.write(dir.resolve(CLASSES.get(label(i))).resolve(String.format(Locale.ROOT, "%06d.jpg", i)), jpeg);
      total += jpeg.length;
    }
    return total;
  }

  /** The class of image {@code i}. */
  public static int label(int i) {
    return i % CLASSES.size();
  }

  /** Image {@code i} encoded as JPEG at its drawn quality (85-95). */
  public static byte[] jpeg(int i, long seed) {
    SplittableRandom rnd = random(i, seed);
    BufferedImage img = render(label(i), rnd);
    return encode(img, "jpeg", 0.85f + 0.10f * rnd.nextFloat());
  }

  /** Image {@code i} encoded as PNG (the same picture as {@link #jpeg}, lossless). */
  public static byte[] png(int i, long seed) {
    SplittableRandom rnd = random(i, seed);
    return encode(render(label(i), rnd), "png", 0f);
  }

  private static SplittableRandom random(int i, long seed) {
    return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + i * 0xC2B2AE3D27D4EB4FL + 1);
  }

  /** Draws one picture of class {@code cls}; the size, layout and colours come from {@code rnd}. */
  static BufferedImage render(int cls, SplittableRandom rnd) {
    int w = SIZES[rnd.nextInt(SIZES.length)];
    int h = rnd.nextInt(3) == 0 ? (int) Math.round(w * (0.75 + 0.5 * rnd.nextDouble())) : w;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setPaint(new GradientPaint(0, 0, color(rnd, 0.2f, 0.9f), w * rnd.nextFloat(), h, color(rnd, 0.2f, 0.9f)));
      g.fillRect(0, 0, w, h);
      // Clutter that belongs to no class: lines and soft blobs.
      for (int k = rnd.nextInt(3, 8); k > 0; k--) {
        g.setColor(withAlpha(color(rnd, 0.3f, 1f), 60 + rnd.nextInt(100)));
        if (rnd.nextBoolean()) {
          g.setStroke(new BasicStroke(1 + rnd.nextInt(4)));
          g.drawLine(rnd.nextInt(w), rnd.nextInt(h), rnd.nextInt(w), rnd.nextInt(h));
        } else {
          int r = 4 + rnd.nextInt(Math.max(5, w / 8));
          g.fill(new Ellipse2D.Double(rnd.nextInt(w) - r, rnd.nextInt(h) - r, 2 * r, 2 * r));
        }
      }
      double side = Math.min(w, h) * (0.35 + 0.35 * rnd.nextDouble());
      double cx = side / 2 + rnd.nextDouble() * (w - side);
      double cy = side / 2 + rnd.nextDouble() * (h - side);
      g.translate(cx, cy);
      g.rotate(rnd.nextDouble() * 2 * Math.PI);
      g.setColor(color(rnd, 0.5f, 1f));
      shape(g, cls, side / 2, rnd);
    } finally {
      g.dispose();
    }
    noise(img, 4 + rnd.nextInt(8), rnd);
    return img;
  }

  private static void shape(Graphics2D g, int cls, double r, SplittableRandom rnd) {
    int ri = (int) Math.round(r);
    switch (cls) {
      case 0 -> g.fill(new Ellipse2D.Double(-r, -r, 2 * r, 2 * r));
      case 1 -> g.fill(new Rectangle2D.Double(-r * 0.8, -r * 0.8, 1.6 * r, 1.6 * r));
      case 2 -> g.fill(polygon(3, r, 1.0));
      case 3 -> {
        g.setStroke(new BasicStroke((float) (r * 0.3)));
        g.draw(new Ellipse2D.Double(-r * 0.8, -r * 0.8, 1.6 * r, 1.6 * r));
      }
      case 4 -> {
        g.fill(new Rectangle2D.Double(-r, -r * 0.25, 2 * r, r * 0.5));
        g.fill(new Rectangle2D.Double(-r * 0.25, -r, r * 0.5, 2 * r));
      }
      case 5 -> {
        for (int k = -2; k <= 2; k++) {
          g.fill(new Rectangle2D.Double(-r, k * r * 0.4 - r * 0.1, 2 * r, r * 0.2));
        }
      }
      case 6 -> g.fill(star(r));
      case 7 -> {
        java.awt.geom.Area a = new java.awt.geom.Area(new Ellipse2D.Double(-r, -r, 2 * r, 2 * r));
        a.subtract(new java.awt.geom.Area(new Ellipse2D.Double(-r * 0.45, -r * 1.05, 2 * r, 2 * r)));
        g.fill(a);
      }
      case 8 -> {
        g.fill(polygon(4, r, 0.6));
        g.setColor(color(rnd, 0f, 0.4f));
        for (int k = 0; k < 4; k++) {
          g.fillOval(-ri / 8 + (k - 2) * ri / 6, -ri / 8, ri / 4 + 1, ri / 4 + 1);
        }
      }
      case 9 -> {
        Color other = color(rnd, 0f, 0.35f);
        Color first = g.getColor();
        double cell = r * 0.5;
        for (int a = 0; a < 4; a++) {
          for (int b = 0; b < 4; b++) {
            g.setColor((a + b) % 2 == 0 ? first : other);
            g.fill(new Rectangle2D.Double(-r + a * cell, -r + b * cell, cell, cell));
          }
        }
      }
      default -> throw new IllegalArgumentException("class " + cls + " is not in 0.." + (CLASSES.size() - 1));
    }
  }

  private static Polygon polygon(int corners, double r, double squash) {
    Polygon p = new Polygon();
    for (int k = 0; k < corners; k++) {
      double a = 2 * Math.PI * k / corners;
      p.addPoint((int) Math.round(r * Math.cos(a)), (int) Math.round(r * squash * Math.sin(a)));
    }
    return p;
  }

  private static Polygon star(double r) {
    Polygon p = new Polygon();
    for (int k = 0; k < 10; k++) {
      double a = Math.PI * k / 5;
      double rr = k % 2 == 0 ? r : r * 0.4;
      p.addPoint((int) Math.round(rr * Math.cos(a)), (int) Math.round(rr * Math.sin(a)));
    }
    return p;
  }

  private static Color color(SplittableRandom rnd, float minBrightness, float maxBrightness) {
    return Color.getHSBColor(rnd.nextFloat(), 0.3f + 0.7f * rnd.nextFloat(),
        minBrightness + (maxBrightness - minBrightness) * rnd.nextFloat());
  }

  private static Color withAlpha(Color c, int alpha) {
    return new Color(c.getRed(), c.getGreen(), c.getBlue(), alpha);
  }

  /** Adds per-pixel noise, uniform-ish in [-amp, amp] (sum of two uniforms, so it peaks at 0). */
  private static void noise(BufferedImage img, int amp, SplittableRandom rnd) {
    byte[] px = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
    for (int i = 0; i < px.length; i++) {
      int v = (px[i] & 0xff) + rnd.nextInt(-amp, amp + 1) / 2 + rnd.nextInt(-amp, amp + 1) / 2;
      px[i] = (byte) Math.max(0, Math.min(255, v));
    }
  }

  /** Encodes with ImageIO: "jpeg" at {@code quality} in [0, 1], or "png". */
  static byte[] encode(BufferedImage img, String format, float quality) {
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
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      writer.dispose();
    }
    return bytes.toByteArray();
  }
}
