package ai.bios.tf.image;

import ai.bios.tf.BadInputException;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.image.DecodeJpeg;
import org.tensorflow.op.image.DecodePng;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * Decodes JPEG and PNG with TensorFlow's own kernels (DecodeImage: libjpeg-turbo, libpng), the
 * fastest decoder measured ({@code ImageDecodeBench}). One Graph and Session per JVM, shared by
 * every thread: a Session may be run concurrently, and with {@code inter_op_parallelism_threads =
 * -1} each run executes its kernels on the calling thread, so an input thread is one core and
 * TensorFlow adds no threads. The Session sees no GPU ({@link #config()}). The pair is created on
 * first use and closed by a shutdown hook (it lives as long as the executor JVM, across tasks); no
 * tensor outlives a call. A call after that hook ran (an input thread still working while the JVM
 * exits) decodes with a one-off Graph and Session, closed before it returns: the shutdown is no
 * fault of the record, so it is not reported as one.
 */
final class TfImageDecoder implements AutoCloseable {
  private static volatile TfImageDecoder shared;

  private final Graph graph;
  private final Session session;
  private final Placeholder<TString> input;
  private final Operand<TUint8> png;
  /** DecodeJpeg at DCT scale 1/1, 1/2, 1/4, 1/8. */
  private final List<Operand<TUint8>> jpeg = new ArrayList<>();
  private volatile boolean closed;

  TfImageDecoder() {
    Graph g = new Graph();
    try {
      Ops tf = Ops.create(g);
      input = tf.placeholder(TString.class);
      png = tf.image.decodePng(input, TUint8.class, DecodePng.channels(0L));
      for (long ratio = 1; ratio <= 8; ratio *= 2) {
        jpeg.add(tf.image.decodeJpeg(input, DecodeJpeg.channels(0L), DecodeJpeg.ratio(ratio)));
      }
      session = new Session(g, config());
    } catch (RuntimeException | Error e) {
      g.close();
      throw e;
    }
    graph = g;
  }

  /**
   * The decoder Session's config: kernels on the caller's thread, one intra-op thread, and no GPU
   * ({@code device_count GPU = 0}, as {@code ComputeOptions} does for a CPU model): the JVM-wide
   * decoder must not initialise every visible GPU, reserve their memory or ignore the training
   * sessions' per-task {@code visible_device_list}.
   */
  static ConfigProto config() {
    return ConfigProto.newBuilder()
        .setIntraOpParallelismThreads(1)
        .setInterOpParallelismThreads(-1) // run kernels on the caller's thread
        .putDeviceCount("GPU", 0)
        .build();
  }

  private static TfImageDecoder get() {
    TfImageDecoder d = shared;
    if (d == null) {
      synchronized (TfImageDecoder.class) {
        d = shared;
        if (d == null) {
          d = new TfImageDecoder();
          Runtime.getRuntime().addShutdownHook(new Thread(d::close, "bios-image-decoder-close"));
          shared = d;
        }
      }
    }
    return d;
  }

  /** Closes the Session (after the runs in progress) and the Graph; later calls use a one-off decoder. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      session.close();
      graph.close();
    }
  }

  /**
   * Decodes {@code bytes} (already detected as {@code format}, its header's {@code size} {width,
   * height} checked) with the JVM's decoder. A JPEG is decoded at the smallest DCT scale (1/2, 1/4,
   * 1/8) that keeps it at least {@code minWidth x minHeight} (libjpeg's scaled IDCT: a cheaper decode
   * and a smaller image to resize, as PIL's draft mode).
   */
  static Pixels decode(byte[] bytes, ImageDecoder.Format format, int[] size, int minWidth, int minHeight) {
    return get().run(bytes, format, size, minWidth, minHeight);
  }

  /** {@link #decode} with this decoder, or, once it is closed, with a one-off one. */
  Pixels run(byte[] bytes, ImageDecoder.Format format, int[] size, int minWidth, int minHeight) {
    Operand<TUint8> output = png;
    if (format == ImageDecoder.Format.JPEG) {
      int k = 0;
      while (k < 3 && ceilDiv(size[0], 2 << k) >= minWidth && ceilDiv(size[1], 2 << k) >= minHeight) {
        k++;
      }
      output = jpeg.get(k);
    }
    try (TString in = TString.tensorOfBytes(NdArrays.scalarOfObject(bytes))) {
      Result result;
      try {
        result = session.runner().feed(input, in).fetch(output).run();
      } catch (IllegalStateException e) {
        if (!closed) {
          throw e;
        }
        try (TfImageDecoder once = new TfImageDecoder()) {
          return once.run(bytes, format, size, minWidth, minHeight);
        }
      }
      try (Result r = result) {
        TUint8 t = (TUint8) r.get(0);
        Shape s = t.shape();
        int h = (int) s.get(0);
        int w = (int) s.get(1);
        int c = (int) s.get(2);
        byte[] data = new byte[h * w * c];
        t.asRawTensor().data().read(data);
        return Pixels.interleaved(data, w, h, c);
      }
    } catch (TensorFlowException | IllegalArgumentException e) { // TFInvalidArgumentException is the latter
      throw new BadInputException("truncated or corrupt " + format + " image (TensorFlow: " + firstLine(e) + "): "
          + ImageDecoder.describe(bytes) + "; re-encode the file or filter such rows out", e);
    }
  }

  /** The first line of {@code e}'s message, or its class name when it has none. */
  static String firstLine(Throwable e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getName() : m.lines().findFirst().orElse("");
  }

  private static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }
}
