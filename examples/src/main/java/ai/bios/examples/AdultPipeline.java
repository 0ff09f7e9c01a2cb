package ai.bios.examples;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.log1p;
import static org.apache.spark.sql.functions.regexp_replace;
import static org.apache.spark.sql.functions.trim;

import ai.bios.spark.BiosEstimator;
import ai.bios.spark.BiosModel;
import ai.bios.spark.TrainingSummary;
import ai.bios.tf.exec.EpochMetrics;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.LayerSpec;
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
import org.apache.spark.ml.feature.StringIndexerModel;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * An existing Spark ETL pipeline with Bios as its last stage: the UCI Adult census data read from
 * CSV, cleaned (the test file's spaces and trailing dots), capital amounts log-scaled, categorical
 * columns indexed and numeric ones standardised, then a Bios network with an embedding per
 * categorical column trained data-parallel on barrier tasks (AdamW, cosine learning-rate decay).
 * With {@code --compare-mllib true} MLlib's LogisticRegression and MultilayerPerceptronClassifier
 * train on the same columns (one-hot encoded) first. The last line printed is JSON.
 *
 * <pre>examples/bin/run-example AdultPipeline [--mode simple|efficient] [--workers N] [--epochs N]
 *     [--compare-mllib true] [--tensorboard-dir DIR] [--report-dir DIR]</pre>
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
      String master, List<String> gpus, int epochsRun, int bestEpoch, double valAccuracy) {
    String toJson() {
      return "{" + fields() + "}";
    }

    /** This run's JSON with MLlib's baselines on the same features beside it. */
    String toJson(Baselines b) {
      return "{" + fields() + String.format(Locale.ROOT,
          ",\"mllib_lr_accuracy\":%.4f,\"mllib_lr_seconds\":%.2f,\"mllib_mlp_accuracy\":%.4f,\"mllib_mlp_seconds\":%.2f}",
          b.lrAccuracy(), b.lrSeconds(), b.mlpAccuracy(), b.mlpSeconds());
    }

    private String fields() {
      String loss = Double.isNaN(finalLoss) ? "null" : String.format(Locale.ROOT, "%.5f", finalLoss);
      String gpuList = gpus.stream().map(g -> "\"" + g + "\"").collect(Collectors.joining(",", "[", "]"));
      return String.format(Locale.ROOT,
          "\"accuracy\":%.4f,\"train_seconds\":%.2f,\"mode\":\"%s\",\"workers\":%d,\"steps\":%d,\"final_loss\":%s,"
              + "\"epochs_run\":%d,\"best_epoch\":%d,\"val_accuracy\":%.4f,\"master\":\"%s\",\"gpus\":%s",
          accuracy, trainSeconds, mode, workers, steps, loss, epochsRun, bestEpoch, valAccuracy, master, gpuList);
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
    df = df.na().drop(NUMERIC);
    // Capital gains and losses are zero for most people and heavy-tailed for the rest: a log and an
    // "any at all" flag say more than the raw amount. fnlwgt is the census's sampling weight, not a
    // property of the person, and stays out of the features.
    return df.withColumn("log_capital_gain", log1p(col("capital_gain")))
        .withColumn("log_capital_loss", log1p(col("capital_loss")))
        .withColumn("has_capital_gain", col("capital_gain").gt(0).cast("double"))
        .withColumn("has_capital_loss", col("capital_loss").gt(0).cast("double"));
  }

  /** The numeric model inputs, derived by {@link #read}. */
  static final String[] NUMERIC_FEATURES = {"age", "education_num", "log_capital_gain", "log_capital_loss",
      "has_capital_gain", "has_capital_loss", "hours_per_week"};

  static String[] indexed() {
    String[] indexed = new String[CATEGORICAL.length];
    for (int i = 0; i < CATEGORICAL.length; i++) {
      indexed[i] = CATEGORICAL[i] + "_idx";
    }
    return indexed;
  }

  /**
   * Bios's feature stages: the label and every categorical column indexed (unseen values get their
   * own "keep" id), the numeric columns assembled and standardised, then one vector {@code [numeric...,
   * id per categorical column...]} for the model's feature columns, which embed each id.
   */
  static List<PipelineStage> embeddingStages() {
    List<PipelineStage> stages = new ArrayList<>();
    stages.add(new StringIndexer().setInputCol("income").setOutputCol("label").setStringOrderType("alphabetAsc"));
    stages.add(new StringIndexer().setInputCols(CATEGORICAL).setOutputCols(indexed()).setHandleInvalid("keep"));
    stages.add(new VectorAssembler().setInputCols(NUMERIC_FEATURES).setOutputCol("numeric_raw"));
    stages.add(new StandardScaler().setInputCol("numeric_raw").setOutputCol("numeric").setWithMean(true));
    String[] inputs = new String[1 + CATEGORICAL.length];
    inputs[0] = "numeric";
    System.arraycopy(indexed(), 0, inputs, 1, CATEGORICAL.length);
    stages.add(new VectorAssembler().setInputCols(inputs).setOutputCol("features"));
    return stages;
  }

  /**
   * The same columns the way MLlib's models take them: categorical columns one-hot encoded, everything
   * assembled and standardised.
   */
  static List<PipelineStage> oneHotStages() {
    List<PipelineStage> stages = new ArrayList<>();
    stages.add(new StringIndexer().setInputCol("income").setOutputCol("label").setStringOrderType("alphabetAsc"));
    String[] encoded = new String[CATEGORICAL.length];
    for (int i = 0; i < CATEGORICAL.length; i++) {
      encoded[i] = CATEGORICAL[i] + "_vec";
    }
    stages.add(new StringIndexer().setInputCols(CATEGORICAL).setOutputCols(indexed()).setHandleInvalid("keep"));
    stages.add(new OneHotEncoder().setInputCols(indexed()).setOutputCols(encoded).setHandleInvalid("keep"));
    String[] inputs = new String[NUMERIC_FEATURES.length + encoded.length];
    System.arraycopy(NUMERIC_FEATURES, 0, inputs, 0, NUMERIC_FEATURES.length);
    System.arraycopy(encoded, 0, inputs, NUMERIC_FEATURES.length, encoded.length);
    stages.add(new VectorAssembler().setInputCols(inputs).setOutputCol("raw_features"));
    stages.add(new StandardScaler().setInputCol("raw_features").setOutputCol("features").setWithMean(true));
    return stages;
  }

  /**
   * The network: an embedding per categorical column (its width grows with the square root of the
   * column's cardinality, at most 16) beside the numeric block, then dense 64 with batch norm and
   * dropout, a residual dense block with layer norm, dense 32 and the two class logits.
   */
  static ModelSpec model(StringIndexerModel ids) {
    LayerSpec.Column[] columns = new LayerSpec.Column[1 + CATEGORICAL.length];
    columns[0] = LayerSpec.numeric("numeric", 0, NUMERIC_FEATURES.length);
    for (int i = 0; i < CATEGORICAL.length; i++) {
      int cardinality = ids.labelsArray()[i].length + 1; // + StringIndexer's "keep" id for unseen values
      int dim = Math.min(16, (int) Math.ceil(Math.sqrt(cardinality)) + 1);
      columns[1 + i] = LayerSpec.categorical(CATEGORICAL[i], NUMERIC_FEATURES.length + i, cardinality, dim);
    }
    return ModelSpec.builder(NUMERIC_FEATURES.length + CATEGORICAL.length)
        .featureColumns(columns)
        .dense(64, Activation.RELU).batchNorm().dropout(0.2)
        .residual(new LayerSpec.Dense(64, Activation.RELU), new LayerSpec.LayerNorm())
        .dense(32, Activation.RELU)
        .dense(2, Activation.NONE)
        .seed(7)
        .build();
  }

  public static Result run(SparkSession spark, String dataDir, String mode, int workers, int epochs) {
    return run(spark, dataDir, mode, workers, epochs, "", "");
  }

  /** As above, also writing TensorBoard event files and an HTML report when the directories are set. */
  public static Result run(SparkSession spark, String dataDir, String mode, int workers, int epochs,
      String tensorBoardDir, String reportDir) {
    // Settings first: a bad one fails here, naming itself, before any data is read.
    BiosEstimator bios = new BiosEstimator()
        .setNumWorkers(workers).setBatchSize(256).setEpochs(epochs)
        .setOptimizer("adamw").setLearningRate(0.002).setWeightDecay(0.05).setLearningRateSchedule("cosine")
        // 10% of adult.csv is held out for validation; training stops after 3 epochs without a
        // better validation loss and keeps the best epoch's weights. adult.test.csv is only scored.
        .setValidationFraction(0.1).setEarlyStoppingPatience(3)
        .setExecutionMode(mode).setPrefetchDepth("auto").setSeed(7)
        .setTensorBoardDir(tensorBoardDir).setReportDir(reportDir);
    Dataset<Row> train = read(spark, dataDir + "/adult.csv").cache();
    Dataset<Row> test = read(spark, dataDir + "/adult.test.csv").cache();
    List<PipelineStage> stages = embeddingStages();
    // The embedding tables' sizes are the categorical columns' cardinalities, known once indexed.
    PipelineModel features = new Pipeline().setStages(stages.toArray(new PipelineStage[0])).fit(train);
    stages.add(bios.setModelSpec(model((StringIndexerModel) features.stages()[1])));
    PipelineModel model = new Pipeline().setStages(stages.toArray(new PipelineStage[0])).fit(train);

    BiosModel trained = (BiosModel) model.stages()[model.stages().length - 1];
    Dataset<Row> scored = model.transform(test);
    Column right = col("prediction").equalTo(col("label"));
    double accuracy = scored.where(right).count() / (double) scored.count();
    TrainingSummary summary = trained.summary();
    List<String> gpus = summary.getWorkers().stream().flatMap(w -> w.getGpu().stream()).toList();
    List<EpochMetrics> history = summary.getHistory();
    System.out.println("epoch  train_loss  val_loss  val_accuracy  val_auc  learning_rate");
    for (EpochMetrics e : history) {
      System.out.printf(Locale.ROOT, "%5d  %10.4f  %8.4f  %12.4f  %7.4f  %13.6f%s%n", e.epoch(), e.trainLoss(), e.valLoss(),
          e.valAccuracy(), e.valAuc(), e.learningRate(), e.epoch() == summary.bestEpoch() ? "  <- best, kept" : "");
    }
    int best = summary.bestEpoch();
    double valAccuracy = history.stream().filter(e -> e.epoch() == best).mapToDouble(EpochMetrics::valAccuracy)
        .findFirst().orElse(Double.NaN);
    return new Result(accuracy, summary.trainSeconds(), mode, workers, summary.steps(),
        summary.finalLoss(), spark.sparkContext().master(), gpus, summary.epochsRun(), best, valAccuracy);
  }

  /**
   * Spark MLlib's own classifiers on exactly the same features (the same fitted feature stages, the
   * same splits), for comparison: LogisticRegression (its defaults, no regularisation) and
   * MultilayerPerceptronClassifier with Bios's layer sizes {@code [n, 64, 32, 2]} (L-BFGS). Each
   * reports test accuracy and the wall time of its {@code fit} alone.
   */
  public record Baselines(double lrAccuracy, double lrSeconds, double mlpAccuracy, double mlpSeconds) {}

  public static Baselines mllibBaselines(SparkSession spark, String dataDir, int mlpMaxIter) {
    Dataset<Row> train = read(spark, dataDir + "/adult.csv").cache();
    Dataset<Row> test = read(spark, dataDir + "/adult.test.csv").cache();
    List<PipelineStage> stages = oneHotStages();
    PipelineModel features = new Pipeline().setStages(stages.toArray(new PipelineStage[0])).fit(train);
    Dataset<Row> tr = features.transform(train).cache();
    Dataset<Row> te = features.transform(test).cache();
    tr.count();
    te.count();
    int inputSize = AttributeGroup.fromStructField(tr.schema().apply("features")).size();
    try {
      long t0 = System.nanoTime();
      var lr = new org.apache.spark.ml.classification.LogisticRegression().fit(tr);
      double lrSeconds = (System.nanoTime() - t0) / 1e9;
      long t1 = System.nanoTime();
      var mlp = new org.apache.spark.ml.classification.MultilayerPerceptronClassifier()
          .setLayers(new int[] {inputSize, 64, 32, 2}).setMaxIter(mlpMaxIter).setSeed(7).fit(tr);
      double mlpSeconds = (System.nanoTime() - t1) / 1e9;
      return new Baselines(accuracy(lr.transform(te)), lrSeconds, accuracy(mlp.transform(te)), mlpSeconds);
    } finally {
      tr.unpersist();
      te.unpersist();
      train.unpersist();
      test.unpersist();
    }
  }

  private static double accuracy(Dataset<Row> scored) {
    return scored.where(col("prediction").equalTo(col("label"))).count() / (double) scored.count();
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
    int epochs = Integer.parseInt(a.get("epochs", "12"));
    String master = a.get("master", submittedMasterOr("local[" + Math.max(2, workers) + "]"));
    String data = a.get("data", "examples/data/adult");
    boolean baseline = Boolean.parseBoolean(a.get("compare-mllib", "false"));
    String tensorBoardDir = a.get("tensorboard-dir", "");
    String reportDir = a.get("report-dir", "");
    a.requireConsumed();
    SparkSession spark = localSpark("Bios AdultPipeline", master).getOrCreate();
    try {
      Baselines b = baseline ? mllibBaselines(spark, data, 200) : null;
      if (b != null) {
        System.out.printf(Locale.ROOT, "MLlib LogisticRegression: accuracy %.4f, fit %.1f s%n", b.lrAccuracy(), b.lrSeconds());
        System.out.printf(Locale.ROOT, "MLlib MultilayerPerceptronClassifier [n,64,32,2], maxIter 200: accuracy %.4f, fit %.1f s%n",
            b.mlpAccuracy(), b.mlpSeconds());
      }
      Result r = run(spark, data, mode, workers, epochs, tensorBoardDir, reportDir);
      System.out.printf(Locale.ROOT, "Adult pipeline: accuracy %.4f on adult.test.csv, trained in %.1f s (%s, %d workers)%n",
          r.accuracy(), r.trainSeconds(), r.mode(), r.workers());
      if (!r.gpus().isEmpty()) {
        System.out.println("GPU of each training worker, by rank: " + String.join(", ", r.gpus()) + " (on " + r.master() + ")");
      }
      System.out.println(b == null ? r.toJson() : r.toJson(b));
    } finally {
      spark.stop();
    }
  }
}
