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
 * TensorFlow adds no threads. The pair is created on first use and closed by a shutdown hook (it
 * lives as long as the executor JVM, across tasks); no tensor outlives a call.
 */
final class TfImageDecoder {
  private static volatile TfImageDecoder shared;

  private final Graph graph;
  private final Session session;
  private final Placeholder<TString> input;
  private final Operand<TUint8> png;
  /** DecodeJpeg at DCT scale 1/1, 1/2, 1/4, 1/8. */
  private final List<Operand<TUint8>> jpeg = new ArrayList<>();

  private TfImageDecoder() {
    Graph g = new Graph();
    try {
      Ops tf = Ops.create(g);
      input = tf.placeholder(TString.class);
      png = tf.image.decodePng(input, TUint8.class, DecodePng.channels(0L));
      for (long ratio = 1; ratio <= 8; ratio *= 2) {
        jpeg.add(tf.image.decodeJpeg(input, DecodeJpeg.channels(0L), DecodeJpeg.ratio(ratio)));
      }
      ConfigProto config = ConfigProto.newBuilder()
          .setIntraOpParallelismThreads(1)
          .setInterOpParallelismThreads(-1) // run kernels on the caller's thread
          .build();
      session = new Session(g, config);
    } catch (RuntimeException | Error e) {
      g.close();
      throw e;
    }
    graph = g;
  }

  private static TfImageDecoder get() {
    TfImageDecoder d = shared;
    if (d == null) {
      synchronized (TfImageDecoder.class) {
        d = shared;
        if (d == null) {
          d = new TfImageDecoder();
          TfImageDecoder owned = d;
          Runtime.getRuntime().addShutdownHook(new Thread(owned::close, "bios-image-decoder-close"));
          shared = d;
        }
      }
    }
    return d;
  }

  private void close() {
    session.close();
    graph.close();
  }

  /**
   * Decodes {@code bytes} (already detected as {@code format}) to packed pixels. A JPEG is decoded at
   * the smallest DCT scale (1/2, 1/4, 1/8) that keeps it at least {@code minWidth x minHeight}
   * (libjpeg's scaled IDCT: a cheaper decode and a smaller image to resize, as PIL's draft mode).
   */
  static Pixels decode(byte[] bytes, ImageDecoder.Format format, int minWidth, int minHeight) {
    TfImageDecoder d = get();
    Operand<TUint8> output = d.png;
    if (format == ImageDecoder.Format.JPEG) {
      int[] size = ImageDecoder.jpegSize(bytes);
      int k = 0;
      while (size != null && k < 3 && ceilDiv(size[0], 2 << k) >= minWidth && ceilDiv(size[1], 2 << k) >= minHeight) {
        k++;
      }
      output = d.jpeg.get(k);
    }
    try (TString in = TString.tensorOfBytes(NdArrays.scalarOfObject(bytes));
         Result r = d.session.runner().feed(d.input, in).fetch(output).run()) {
      TUint8 t = (TUint8) r.get(0);
      Shape s = t.shape();
      int h = (int) s.get(0);
      int w = (int) s.get(1);
      int c = (int) s.get(2);
      if ((long) h * w > ImageDecoder.MAX_PIXELS) {
        throw new BadInputException(format + " image of " + w + "x" + h + " pixels is larger than the "
            + ImageDecoder.MAX_PIXELS + " pixels Bios decodes; downscale the files first");
      }
      byte[] data = new byte[h * w * c];
      t.asRawTensor().data().read(data);
      return Pixels.interleaved(data, w, h, c);
    } catch (TensorFlowException | IllegalArgumentException e) { // TFInvalidArgumentException is the latter
      throw new BadInputException("truncated or corrupt " + format + " image (TensorFlow: "
          + e.getMessage().lines().findFirst().orElse("") + "): " + ImageDecoder.describe(bytes)
          + "; re-encode the file or filter such rows out", e);
    }
  }

  private static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }
}
