package ai.bios.examples;

import ai.bios.spark.BiosEstimator;
import ai.bios.spark.BiosModel;
import ai.bios.spark.WorkerSummary;
import ai.bios.spark.transform.ImageTransform;
import ai.bios.tf.input.RecordWriter;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.LayerSpec;
import ai.bios.tf.model.ModelSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The same fit in SIMPLE and EFFICIENT mode through Spark (a DataFrame source, local mode,
 * {@code --workers} barrier tasks), interleaved in blocks after a warm-up; the last line is the
 * EngineBench JSON plus {@code workers} and {@code input_threads}. With {@code --workload cnn|small}
 * the rows arrive decoded (a float array per image), so the input stage is only the copy into
 * tensors. With {@code --workload images} the rows are JPEG bytes (an {@link ImageFolder} set,
 * 96-320 px, quality 85-95) and the training task does the real input work: an
 * {@link ImageTransform} decodes, resizes to {@code --image-size}, randomly crops and flips and
 * normalises every record, every epoch, on {@code --input-threads} threads, while TensorFlow
 * trains a CNN.
 *
 * <pre>examples/bin/run-example SparkBench [--workers N] [--workload images|small|cnn] [--blocks B]
 *     [--epochs E] [--records R] [--image-size S] [--input-threads auto|N]</pre>
 */
public final class SparkBench {
  private SparkBench() {}

  public static void main(String[] args) {
    Args a = new Args(args);
    int workers = Integer.parseInt(a.get("workers", "2"));
    String workload = a.get("workload", "cnn");
    int blocks = Integer.parseInt(a.get("blocks", "2"));
    int epochs = Integer.parseInt(a.get("epochs", "2"));
    int records = Integer.parseInt(a.get("records", workload.equals("images") ? "2048" : "4096"));
    int imageSize = Integer.parseInt(a.get("image-size", "32"));
    String inputThreads = a.get("input-threads", "auto");
    a.requireConsumed();
    ModelSpec spec = switch (workload) {
      case "cnn" -> ModelSpec.builder(32, 32, 3)
          .conv2d(8, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
          .conv2d(16, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
          .flatten().dense(32, Activation.RELU).dense(10, Activation.NONE).seed(17).build();
      case "small" -> ModelSpec.builder(32, 32, 3).flatten().dense(64, Activation.RELU)
          .dense(10, Activation.NONE).seed(17).build();
      // Sized so that, on the reference 2-core machine, a step's compute about equals its input work.
      case "images" -> ModelSpec.builder(imageSize, imageSize, 3)
          .conv2d(12, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
          .conv2d(24, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
          .flatten().dense(64, Activation.RELU).dense(10, Activation.NONE).seed(17).build();
      default -> throw new IllegalArgumentException("--workload must be images, cnn or small, was " + workload);
    };
    ImageTransform transform = workload.equals("images")
        ? new ImageTransform("content").setSize(imageSize, imageSize).setRandomCrop(true).setHorizontalFlip(true)
        : null;
    SparkSession spark = SparkSession.builder().appName("Bios SparkBench").master("local[" + workers + "]")
        .config("spark.ui.showConsoleProgress", "false").getOrCreate();
    try {
      Dataset<Row> df = (transform != null ? jpegs(spark, records, workers) : images(spark, records, workers)).cache();
      df.count();
      Fit fit = (mode, w) -> {
        BiosEstimator bios = new BiosEstimator().setModelSpec(spec).setNumWorkers(w).setBatchSize(64).setEpochs(epochs)
            .setLearningRate(0.001).setExecutionMode(mode).setPrefetchDepth(4).setSeed(3).setInputThreads(inputThreads);
        return (transform != null ? bios.setTransform(transform) : bios).fit(df);
      };
      fit.run("simple", workers); // warm-up
      fit.run("efficient", workers);
      List<BiosModel> simple = new ArrayList<>();
      List<BiosModel> efficient = new ArrayList<>();
      for (int b = 0; b < blocks; b++) {
        for (String mode : b % 2 == 0 ? List.of("simple", "efficient") : List.of("efficient", "simple")) {
          BiosModel m = fit.run(mode, workers);
          (mode.equals("simple") ? simple : efficient).add(m);
          WorkerSummary w = m.summary().workers().head();
          System.out.printf(Locale.ROOT, "block %d %-9s step median %.2f ms  train %.2f s  %s%n",
              b, mode, w.stepMedianMillis(), m.summary().trainSeconds(), w.stageMillis());
        }
      }
      double simpleMs = median(simple.stream().mapToDouble(m -> m.summary().workers().head().stepMedianMillis()).toArray());
      double efficientMs = median(efficient.stream().mapToDouble(m -> m.summary().workers().head().stepMedianMillis()).toArray());
      WorkerSummary s0 = simple.get(0).summary().workers().head();
      double longest = 0;
      for (String st : List.of("input", "compute", "aggregate", "apply", "report", "checkpoint")) {
        longest = Math.max(longest, (Double) s0.stageMillis().apply(st));
      }
      boolean bitwise = simple.stream().allMatch(m -> Arrays.equals(m.getWeights(), efficient.get(0).getWeights()))
          && efficient.stream().allMatch(m -> Arrays.equals(m.getWeights(), efficient.get(0).getWeights()));
      System.out.printf(Locale.ROOT,
          "{\"workload\":\"%s\",\"workers\":%d,\"input_threads\":%d,\"steps\":%d,\"blocks\":%d,\"simple_ms\":%.3f,\"efficient_ms\":%.3f,"
              + "\"speedup\":%.3f,\"ceiling\":%.3f,\"efficiency\":%.3f,\"bitwise_equal\":%b,"
              + "\"simple_train_s\":%.3f,\"efficient_train_s\":%.3f}%n",
          workload, workers, efficient.get(0).summary().workers().head().inputThreads(), simple.get(0).summary().steps(), blocks, simpleMs, efficientMs, simpleMs / efficientMs,
          s0.ceiling(), longest / efficientMs, bitwise,
          median(simple.stream().mapToDouble(m -> m.summary().trainSeconds()).toArray()),
          median(efficient.stream().mapToDouble(m -> m.summary().trainSeconds()).toArray()));
    } finally {
      spark.stop();
    }
  }

  /** One fit in {@code mode} on {@code workers} workers. */
  private interface Fit {
    BiosModel run(String mode, int workers);
  }

  /** Encoded images as rows: {@code content binary} (JPEG bytes, as binaryFile reads them), {@code label double}. */
  private static Dataset<Row> jpegs(SparkSession spark, int n, int partitions) {
    List<Row> rows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      rows.add(RowFactory.create(ImageFolder.jpeg(i, 5), (double) ImageFolder.label(i)));
    }
    StructType schema = new StructType()
        .add("content", DataTypes.BinaryType, false)
        .add("label", DataTypes.DoubleType, false);
    return spark.createDataFrame(rows, schema).repartition(partitions);
  }

  /** Decoded images as rows: {@code features array<float>}, {@code label double}. */
  private static Dataset<Row> images(SparkSession spark, int n, int partitions) {
    EncodedImages source = new EncodedImages(n, 10, 32, 32, 5);
    List<Row> rows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      float[][] out = new float[1][];
      double[] label = new double[1];
      source.read(i, 0, new RecordWriter() {
        @Override
        public void features(float[] v, int offset, int length) {
          out[0] = Arrays.copyOfRange(v, offset, offset + length);
        }

        @Override
        public void features(double[] v) {
          throw new UnsupportedOperationException();
        }

        @Override
        public void label(double v) {
          label[0] = v;
        }

        @Override
        public void labels(float[] v, int offset, int length) {
          label[0] = v[offset];
        }
      });
      Float[] boxed = new Float[out[0].length];
      for (int j = 0; j < boxed.length; j++) {
        boxed[j] = out[0][j];
      }
      rows.add(RowFactory.create(Arrays.asList(boxed), label[0]));
    }
    StructType schema = new StructType()
        .add("features", DataTypes.createArrayType(DataTypes.FloatType, false))
        .add("label", DataTypes.DoubleType);
    return spark.createDataFrame(rows, schema).repartition(partitions);
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
