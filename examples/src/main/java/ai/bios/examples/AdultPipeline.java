package ai.bios.examples;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.regexp_replace;
import static org.apache.spark.sql.functions.trim;

import ai.bios.spark.BiosEstimator;
import ai.bios.spark.BiosModel;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ModelSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.attribute.AttributeGroup;
import org.apache.spark.ml.feature.OneHotEncoder;
import org.apache.spark.ml.feature.StandardScaler;
import org.apache.spark.ml.feature.StringIndexer;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * An existing Spark ETL pipeline with Bios as its last stage: the UCI Adult census data read from
 * CSV, cleaned (the test file's spaces and trailing dots), categorical columns indexed and one-hot
 * encoded, everything assembled and scaled, then a Bios network trained data-parallel on barrier
 * tasks. The last line printed is JSON.
 *
 * <pre>examples/bin/run-example AdultPipeline [--mode simple|efficient] [--workers N] [--epochs N]
 *     [--compare-mllib true]</pre>
 */
public final class AdultPipeline {
  private AdultPipeline() {}

  static final String[] CATEGORICAL = {"workclass", "education", "marital_status", "occupation",
      "relationship", "race", "sex", "native_country"};
  static final String[] NUMERIC = {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"};

  /**
   * What one run measured, where: the Spark master it ran on and the GPU address each training
   * worker was given, by rank (empty without GPUs).
   */
  public record Result(double accuracy, double trainSeconds, String mode, int workers, long steps, double finalLoss,
      String master, List<String> gpus) {
    String toJson() {
      String loss = Double.isNaN(finalLoss) ? "null" : String.format(Locale.ROOT, "%.5f", finalLoss);
      String gpuList = gpus.stream().map(g -> "\"" + g + "\"").collect(Collectors.joining(",", "[", "]"));
      return String.format(Locale.ROOT,
          "{\"accuracy\":%.4f,\"train_seconds\":%.2f,\"mode\":\"%s\",\"workers\":%d,\"steps\":%d,\"final_loss\":%s,"
              + "\"master\":\"%s\",\"gpus\":%s}",
          accuracy, trainSeconds, mode, workers, steps, loss, master, gpuList);
    }
  }

  /** Reads a split and does the cleaning real ETL has to do for this data. */
  static Dataset<Row> read(SparkSession spark, String file) {
    Dataset<Row> raw = spark.read().option("header", "true").option("inferSchema", "true")
        .option("ignoreLeadingWhiteSpace", "true").option("ignoreTrailingWhiteSpace", "true")
        .csv(file);
    Dataset<Row> df = raw.withColumn("income", regexp_replace(trim(col("income")), "\\.$", ""));
    for (String c : CATEGORICAL) {
      df = df.withColumn(c, trim(col(c)));
    }
    for (String c : NUMERIC) {
      df = df.withColumn(c, col(c).cast("double"));
    }
    return df.na().drop(NUMERIC);
  }

  /** The feature stages: label and categorical indexing, one-hot encoding, assembly, scaling. */
  static List<PipelineStage> featureStages() {
    List<PipelineStage> stages = new ArrayList<>();
    stages.add(new StringIndexer().setInputCol("income").setOutputCol("label").setStringOrderType("alphabetAsc"));
    String[] indexed = new String[CATEGORICAL.length];
    String[] encoded = new String[CATEGORICAL.length];
    for (int i = 0; i < CATEGORICAL.length; i++) {
      indexed[i] = CATEGORICAL[i] + "_idx";
      encoded[i] = CATEGORICAL[i] + "_vec";
    }
    stages.add(new StringIndexer().setInputCols(CATEGORICAL).setOutputCols(indexed).setHandleInvalid("keep"));
    stages.add(new OneHotEncoder().setInputCols(indexed).setOutputCols(encoded).setHandleInvalid("keep"));
    String[] inputs = new String[NUMERIC.length + encoded.length];
    System.arraycopy(NUMERIC, 0, inputs, 0, NUMERIC.length);
    System.arraycopy(encoded, 0, inputs, NUMERIC.length, encoded.length);
    stages.add(new VectorAssembler().setInputCols(inputs).setOutputCol("raw_features"));
    stages.add(new StandardScaler().setInputCol("raw_features").setOutputCol("features").setWithMean(true));
    return stages;
  }

  public static Result run(SparkSession spark, String dataDir, String mode, int workers, int epochs) {
    // Settings first: a bad one fails here, naming itself, before any data is read.
    BiosEstimator bios = new BiosEstimator()
        .setNumWorkers(workers).setBatchSize(256).setEpochs(epochs)
        .setOptimizer("adam").setLearningRate(0.002).setExecutionMode(mode).setPrefetchDepth("auto").setSeed(7);
    Dataset<Row> train = read(spark, dataDir + "/adult.csv").cache();
    Dataset<Row> test = read(spark, dataDir + "/adult.test.csv").cache();
    List<PipelineStage> stages = featureStages();
    // The network's input size is the assembled vector's, known once the encoders have seen the data.
    PipelineModel features = new Pipeline().setStages(stages.toArray(new PipelineStage[0])).fit(train);
    int inputSize = AttributeGroup.fromStructField(features.transform(train.limit(1)).schema().apply("features")).size();

    ModelSpec spec = ModelSpec.builder(inputSize)
        .dense(64, Activation.RELU).dense(32, Activation.RELU).dense(2, Activation.NONE).seed(7).build();
    stages.add(bios.setModelSpec(spec));
    PipelineModel model = new Pipeline().setStages(stages.toArray(new PipelineStage[0])).fit(train);

    BiosModel trained = (BiosModel) model.stages()[model.stages().length - 1];
    Dataset<Row> scored = model.transform(test);
    Column right = col("prediction").equalTo(col("label"));
    double accuracy = scored.where(right).count() / (double) scored.count();
    List<String> gpus = trained.summary().getWorkers().stream().flatMap(w -> w.getGpu().stream()).toList();
    return new Result(accuracy, trained.summary().trainSeconds(), mode, workers, trained.summary().steps(),
        trained.summary().finalLoss(), spark.sparkContext().master(), gpus);
  }

  /**
   * The same features into Spark MLlib's own MultilayerPerceptronClassifier (same layer sizes,
   * L-BFGS), for comparison: accuracy and wall time of its fit.
   */
  public static Result mllibBaseline(SparkSession spark, String dataDir, int maxIter) {
    Dataset<Row> train = read(spark, dataDir + "/adult.csv").cache();
    Dataset<Row> test = read(spark, dataDir + "/adult.test.csv").cache();
    List<PipelineStage> stages = featureStages();
    PipelineModel features = new Pipeline().setStages(stages.toArray(new PipelineStage[0])).fit(train);
    Dataset<Row> tr = features.transform(train).cache();
    tr.count();
    int inputSize = AttributeGroup.fromStructField(tr.schema().apply("features")).size();
    long t0 = System.nanoTime();
    var mlp = new org.apache.spark.ml.classification.MultilayerPerceptronClassifier()
        .setLayers(new int[] {inputSize, 64, 32, 2}).setMaxIter(maxIter).setSeed(7).fit(tr);
    double seconds = (System.nanoTime() - t0) / 1e9;
    Dataset<Row> scored = mlp.transform(features.transform(test));
    double accuracy = scored.where(col("prediction").equalTo(col("label"))).count() / (double) scored.count();
    return new Result(accuracy, seconds, "mllib-mlp", spark.sparkContext().defaultParallelism(), maxIter, Double.NaN,
        spark.sparkContext().master(), List.of());
  }

  /** The master spark-submit was given (it sets spark.master), else {@code fallback}. */
  static String submittedMasterOr(String fallback) {
    return System.getProperty("spark.master", fallback);
  }

  /** The embedded Spark settings the Adult examples share. */
  static SparkSession.Builder localSpark(String appName, String master) {
    return SparkSession.builder().appName(appName).master(master)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.debug.maxToStringFields", "200");
  }

  public static void main(String[] args) {
    Args a = new Args(args);
    String mode = a.get("mode", "efficient");
    int workers = Integer.parseInt(a.get("workers", "2"));
    int epochs = Integer.parseInt(a.get("epochs", "8"));
    String master = a.get("master", submittedMasterOr("local[" + Math.max(2, workers) + "]"));
    String data = a.get("data", "examples/data/adult");
    boolean baseline = Boolean.parseBoolean(a.get("compare-mllib", "false"));
    a.requireConsumed();
    SparkSession spark = localSpark("Bios AdultPipeline", master).getOrCreate();
    try {
      if (baseline) {
        Result m = mllibBaseline(spark, data, 100);
        System.out.printf(Locale.ROOT, "MLlib MultilayerPerceptronClassifier: accuracy %.4f, fit %.1f s%n",
            m.accuracy(), m.trainSeconds());
        System.out.println(m.toJson());
      }
      Result r = run(spark, data, mode, workers, epochs);
      System.out.printf(Locale.ROOT, "Adult pipeline: accuracy %.4f on adult.test.csv, trained in %.1f s (%s, %d workers)%n",
          r.accuracy(), r.trainSeconds(), r.mode(), r.workers());
      if (!r.gpus().isEmpty()) {
        System.out.println("GPU of each training worker, by rank: " + String.join(", ", r.gpus()) + " (on " + r.master() + ")");
      }
      System.out.println(r.toJson());
    } finally {
      spark.stop();
    }
  }
}
