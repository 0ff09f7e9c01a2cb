package ai.bios.examples;

import ai.bios.spark.BiosEstimator;
import ai.bios.spark.BiosModel;
import ai.bios.spark.WorkerSummary;
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
 * EngineBench JSON plus {@code workers}. Through Spark the rows arrive decoded (a float array per
 * image), so the input stage is the copy into tensors, not the decode EngineBench measures.
 *
 * <pre>examples/bin/run-example SparkBench [--workers N] [--workload small|cnn] [--blocks B] [--epochs E]</pre>
 */
public final class SparkBench {
  private SparkBench() {}

  public static void main(String[] args) {
    Args a = new Args(args);
    int workers = Integer.parseInt(a.get("workers", "2"));
    String workload = a.get("workload", "cnn");
    int blocks = Integer.parseInt(a.get("blocks", "2"));
    int epochs = Integer.parseInt(a.get("epochs", "2"));
    int records = Integer.parseInt(a.get("records", "4096"));
    a.requireConsumed();
    ModelSpec spec = switch (workload) {
      case "cnn" -> ModelSpec.builder(32, 32, 3)
          .conv2d(8, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
          .conv2d(16, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
          .flatten().dense(32, Activation.RELU).dense(10, Activation.NONE).seed(17).build();
      case "small" -> ModelSpec.builder(32, 32, 3).flatten().dense(64, Activation.RELU)
          .dense(10, Activation.NONE).seed(17).build();
      default -> throw new IllegalArgumentException("--workload must be cnn or small, was " + workload);
    };
    SparkSession spark = SparkSession.builder().appName("Bios SparkBench").master("local[" + workers + "]")
        .config("spark.ui.showConsoleProgress", "false").getOrCreate();
    try {
      Dataset<Row> df = images(spark, records, workers).cache();
      df.count();
      fit(df, spec, "simple", workers, epochs); // warm-up
      fit(df, spec, "efficient", workers, epochs);
      List<BiosModel> simple = new ArrayList<>();
      List<BiosModel> efficient = new ArrayList<>();
      for (int b = 0; b < blocks; b++) {
        for (String mode : b % 2 == 0 ? List.of("simple", "efficient") : List.of("efficient", "simple")) {
          BiosModel m = fit(df, spec, mode, workers, epochs);
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
          "{\"workload\":\"%s\",\"workers\":%d,\"steps\":%d,\"blocks\":%d,\"simple_ms\":%.3f,\"efficient_ms\":%.3f,"
              + "\"speedup\":%.3f,\"ceiling\":%.3f,\"efficiency\":%.3f,\"bitwise_equal\":%b,"
              + "\"simple_train_s\":%.3f,\"efficient_train_s\":%.3f}%n",
          workload, workers, simple.get(0).summary().steps(), blocks, simpleMs, efficientMs, simpleMs / efficientMs,
          s0.ceiling(), longest / efficientMs, bitwise,
          median(simple.stream().mapToDouble(m -> m.summary().trainSeconds()).toArray()),
          median(efficient.stream().mapToDouble(m -> m.summary().trainSeconds()).toArray()));
    } finally {
      spark.stop();
    }
  }

  private static BiosModel fit(Dataset<Row> df, ModelSpec spec, String mode, int workers, int epochs) {
    return new BiosEstimator().setModelSpec(spec).setNumWorkers(workers).setBatchSize(64).setEpochs(epochs)
        .setLearningRate(0.001).setExecutionMode(mode).setPrefetchDepth(4).setSeed(3).fit(df);
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
