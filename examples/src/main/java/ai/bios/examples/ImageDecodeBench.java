package ai.bios.examples;

import ai.bios.tf.image.ImageDecoder;
import ai.bios.tf.image.ImageDecoder.Backend;
import ai.bios.tf.image.ImagePreprocessor;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import javax.imageio.ImageIO;
import org.tensorflow.EagerSession;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.image.DecodeImage;
import org.tensorflow.op.image.ResizeBilinear;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * Measures image decoders in images/s per core on {@link ImageFolder}'s pictures (96-320 px, JPEG
 * quality 85-95, and the same pictures as PNG), each image decoded and resized to
 * {@code size x size x 3} floats:
 * <ul>
 * <li>{@code bios_tf}: {@link ImagePreprocessor} with TensorFlow's DecodeImage in one shared Session
 *     that runs on the caller's thread, then Bios's antialiased resize and normalisation: what
 *     {@code ImageTransform} runs by default;
 * <li>{@code bios_imageio}: the same with ImageIO's reader on the bytes ({@code decoder=imageio});
 * <li>{@code decode_only_tf}, {@code decode_only_imageio}: {@link ImageDecoder} alone (no resize);
 * <li>{@code imageio_read}: {@code ImageIO.read(ByteArrayInputStream)} then the same resize;
 * <li>{@code tf_graph}: TensorFlow's DecodeImage (libjpeg-turbo / libpng) + Cast + ResizeBilinear in a
 *     Graph and Session per thread, intra/inter-op threads = 1;
 * <li>{@code tf_eager}: the same ops in an EagerSession per thread.
 * </ul>
 * Each runs with 1 and 2 threads for {@code --seconds}; images/s per core is images/s divided by
 * the threads, and images per CPU-second divides by the process CPU time (which counts TensorFlow's
 * own threads, GC and JIT). The per-call overhead is measured on an 8x8 JPEG. One JSON line per
 * (decoder, format, threads), then a final JSON line.
 *
 * <pre>examples/bin/run-example ImageDecodeBench [--images 200] [--size 96] [--seconds 3] [--threads 1,2]</pre>
 */
public final class ImageDecodeBench {
  private ImageDecodeBench() {}

  /** One thread's decoder; owns its native resources until {@link #close}. */
  private interface Decoder extends AutoCloseable {
    void decode(byte[] bytes, float[] out);

    @Override
    default void close() {}
  }

  private interface Factory {
    Decoder create(int size);
  }

  private static final String[] NAMES = {"decode_only_tf", "decode_only_imageio", "bios_tf", "bios_imageio",
      "imageio_read", "tf_graph", "tf_eager"};

  public static void main(String[] argv) throws Exception {
    System.setProperty("java.awt.headless", "true");
    Args args = new Args(argv);
    int n = Integer.parseInt(args.get("images", "200"));
    int size = Integer.parseInt(args.get("size", "96"));
    double seconds = Double.parseDouble(args.get("seconds", "3"));
    String[] threadList = args.get("threads", "1,2").split(",");
    args.requireConsumed();

    byte[][] jpeg = new byte[n][];
    byte[][] png = new byte[n][];
    long jpegBytes = 0;
    long pngBytes = 0;
    for (int i = 0; i < n; i++) {
      jpeg[i] = ImageFolder.jpeg(i, 11);
      png[i] = ImageFolder.png(i, 11);
      jpegBytes += jpeg[i].length;
      pngBytes += png[i].length;
    }
    System.out.printf(Locale.ROOT, "{\"set\":\"ImageFolder\",\"images\":%d,\"sides\":\"96-320\",\"jpeg_mean_bytes\":%d,"
        + "\"png_mean_bytes\":%d,\"out\":\"%dx%dx3\",\"cores\":%d,\"cpu\":\"%s\"}%n", n, jpegBytes / n, pngBytes / n,
        size, size, Runtime.getRuntime().availableProcessors(), cpuName());

    StringBuilder summary = new StringBuilder("{\"benchmark\":\"ImageDecodeBench\",\"size\":" + size);
    for (String name : NAMES) {
      Factory f = factory(name);
      summary.append(String.format(Locale.ROOT, ",\"%s_call_overhead_us\":%.1f", name, overheadMicros(f, size)));
      for (String format : new String[] {"jpeg", "png"}) {
        byte[][] set = format.equals("jpeg") ? jpeg : png;
        for (String t : threadList) {
          int threads = Integer.parseInt(t.trim());
          Result r = measure(f, size, set, threads, seconds);
          System.out.printf(Locale.ROOT, "{\"decoder\":\"%s\",\"format\":\"%s\",\"threads\":%d,\"images\":%d,"
              + "\"images_per_s\":%.1f,\"images_per_s_per_core\":%.1f,\"images_per_cpu_s\":%.1f,\"process_cpu_cores\":%.2f}%n",
              name, format, threads, r.count, r.rate(), r.rate() / threads, r.perCpuSecond(), r.cpuCores());
          summary.append(String.format(Locale.ROOT, ",\"%s_%s_t%d_per_core\":%.1f,\"%s_%s_t%d_per_cpu_s\":%.1f",
              name, format, threads, r.rate() / threads, name, format, threads, r.perCpuSecond()));
        }
      }
    }
    System.out.println(summary.append('}'));
  }

  private record Result(long count, long wallNanos, long cpuNanos) {
    double rate() {
      return count * 1e9 / wallNanos;
    }

    double perCpuSecond() {
      return count * 1e9 / cpuNanos;
    }

    double cpuCores() {
      return (double) cpuNanos / wallNanos;
    }
  }

  /** Runs {@code threads} threads over the set (after one warm-up pass each) for {@code seconds}. */
  private static Result measure(Factory f, int size, byte[][] set, int threads, double seconds) throws Exception {
    AtomicLong count = new AtomicLong();
    long[] window = new long[2];
    List<Thread> workers = new ArrayList<>();
    java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads, () -> {
      window[0] = System.nanoTime();
      window[1] = processCpuNanos();
    });
    long[] end = new long[2];
    java.util.concurrent.CyclicBarrier stop = new java.util.concurrent.CyclicBarrier(threads, () -> {
      end[0] = System.nanoTime();
      end[1] = processCpuNanos();
    });
    Throwable[] failure = new Throwable[1];
    for (int t = 0; t < threads; t++) {
      int first = t;
      Thread th = new Thread(() -> {
        try (Decoder d = f.create(size)) {
          float[] out = new float[size * size * 3];
          for (int i = 0; i < Math.min(set.length, 50); i++) {
            d.decode(set[i], out);
          }
          start.await();
          long deadline = System.nanoTime() + (long) (seconds * 1e9);
          long done = 0;
          for (int i = first; System.nanoTime() < deadline; i = (i + 1) % set.length) {
            d.decode(set[i], out);
            done++;
          }
          count.addAndGet(done);
          stop.await();
        } catch (Throwable e) {
          synchronized (failure) {
            failure[0] = e;
          }
          start.reset();
          stop.reset();
        }
      }, "decode-bench-" + t);
      workers.add(th);
      th.start();
    }
    for (Thread th : workers) {
      th.join();
    }
    if (failure[0] != null) {
      throw new IllegalStateException("a decode thread failed", failure[0]);
    }
    return new Result(count.get(), end[0] - window[0], end[1] - window[1]);
  }

  /** Microseconds per call on an 8x8 JPEG: the fixed cost of one call, whatever the image. */
  private static double overheadMicros(Factory f, int size) {
    java.awt.image.BufferedImage tiny = new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_3BYTE_BGR);
    byte[] bytes = ImageFolder.encode(tiny, "jpeg", 0.9f);
    try (Decoder d = f.create(8)) {
      float[] out = new float[8 * 8 * 3];
      for (int i = 0; i < 2000; i++) {
        d.decode(bytes, out);
      }
      int reps = 5000;
      long t0 = System.nanoTime();
      for (int i = 0; i < reps; i++) {
        d.decode(bytes, out);
      }
      return (System.nanoTime() - t0) / 1e3 / reps;
    }
  }

  private static Factory factory(String name) {
    return switch (name) {
      case "bios_tf", "bios_imageio" -> size -> {
        ImagePreprocessor p = new ImagePreprocessor(size, size, 3, false, false, null, null,
            ImagePreprocessor.DEFAULT_CROP_SCALE, name.equals("bios_tf") ? Backend.TENSORFLOW : Backend.IMAGEIO);
        return (bytes, out) -> p.process(bytes, false, null, out, 0);
      };
      case "decode_only_tf", "decode_only_imageio" -> size -> {
        Backend backend = name.endsWith("_tf") ? Backend.TENSORFLOW : Backend.IMAGEIO;
        return (bytes, out) -> out[0] = ImageDecoder.decode(bytes, backend).get(0, 0, 0);
      };
      case "imageio_read" -> size -> {
        ImagePreprocessor p = new ImagePreprocessor(size, size, 3, false, false);
        return (bytes, out) -> {
          try {
            p.process(ImageDecoder.pixels(ImageIO.read(new ByteArrayInputStream(bytes))), false, null, out, 0);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        };
      };
      case "tf_graph" -> TfGraph::new;
      case "tf_eager" -> TfEager::new;
      default -> throw new IllegalArgumentException(name);
    };
  }

  private static ConfigProto oneThread() {
    return ConfigProto.newBuilder().setIntraOpParallelismThreads(1).setInterOpParallelismThreads(1).build();
  }

  /** DecodeImage -> Cast -> ExpandDims -> ResizeBilinear in a Graph; one Session per thread. */
  private static final class TfGraph implements Decoder {
    private final Graph graph = new Graph();
    private final Session session;
    private final Placeholder<TString> input;
    private final Operand<TFloat32> output;

    TfGraph(int size) {
      Ops tf = Ops.create(graph);
      input = tf.placeholder(TString.class);
      output = resize(tf, input, size);
      session = new Session(graph, oneThread());
    }

    @Override
    public void decode(byte[] bytes, float[] out) {
      try (TString in = TString.tensorOfBytes(NdArrays.scalarOfObject(bytes));
           org.tensorflow.Result r = session.runner().feed(input, in).fetch(output).run()) {
        ((TFloat32) r.get(0)).asRawTensor().data().asFloats().read(out);
      }
    }

    @Override
    public void close() {
      session.close();
      graph.close();
    }
  }

  /** The same ops run eagerly; one EagerSession per thread. */
  private static final class TfEager implements Decoder {
    private final EagerSession eager = EagerSession.options().config(oneThread()).build();
    private final Ops tf = Ops.create(eager);
    private final int size;

    TfEager(int size) {
      this.size = size;
    }

    @Override
    public void decode(byte[] bytes, float[] out) {
      try (TString in = TString.tensorOfBytes(NdArrays.scalarOfObject(bytes))) {
        TFloat32 r = resize(tf, tf.constantOf(in), size).asTensor();
        r.asRawTensor().data().asFloats().read(out);
      }
    }

    @Override
    public void close() {
      eager.close();
    }
  }

  private static Operand<TFloat32> resize(Ops tf, Operand<TString> bytes, int size) {
    DecodeImage<TUint8> decoded = tf.image.decodeImage(bytes, TUint8.class, DecodeImage.channels(3L), DecodeImage.expandAnimations(false));
    Operand<TFloat32> f = tf.dtypes.cast(decoded, TFloat32.class);
    return tf.image.resizeBilinear(tf.expandDims(f, tf.constant(0)), tf.constant(new int[] {size, size}),
        ResizeBilinear.halfPixelCenters(true));
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static String cpuName() {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim().replace("\"", "");
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: leave it out
    }
    return "unknown";
  }
}
