// Bios in a notebook: the UCI Adult census data through an MLlib pipeline whose last stage trains a
// TensorFlow network data-parallel on Spark, then evaluation, the training summary, save/reload and
// a SavedModel export.
//
// Paste the cells below, one per notebook cell and in order, into a Scala notebook (Databricks,
// Zeppelin's %spark, Jupyter with almond) or into `spark-shell --jars bios-spark-<version>-assembly.jar`.
// They assume a SparkSession named `spark`, as every one of those provides. How to attach the jar:
// examples/notebooks/README.md. A test (examples/src/test/java/ai/bios/examples/AdultNotebookTest.java)
// runs these cells one by one in Scala's REPL, so they stay runnable.

// ---- cell: Cluster configuration ----
// ## Before you start: the cluster's Spark config
//
// Live training progress comes from the Bios Spark plugin, which Spark loads only when the session
// starts, so it cannot be switched on from a running notebook. Add this line to the cluster's
// Spark config (Databricks: Compute > your cluster > Advanced options > Spark > Spark config;
// Zeppelin: the spark interpreter's properties; spark-shell: `--conf`), then (re)start the cluster:
//
//     spark.plugins ai.bios.spark.BiosPlugin
//
// Optional: `spark.bios.progressInterval 5s` prints the progress line more often than every 10 s.
// This cell only checks what the session has.
val biosPlugin = spark.conf.getOption("spark.plugins").exists(_.split(",").map(_.trim).contains("ai.bios.spark.BiosPlugin"))
println(s"Spark ${spark.version}; Bios progress plugin ${if (biosPlugin) "on" else "off: add spark.plugins=ai.bios.spark.BiosPlugin to the cluster's Spark config"}")

// ---- cell: Parameters ----
// ## Where the data is and where results go
//
// `dataDir` holds adult.csv and adult.test.csv (examples/data/adult in the Bios repository; on a
// cluster upload them to DBFS, HDFS or object storage and put that path here). `workDir` receives
// the saved pipeline and the SavedModel: on a cluster it must be a path every node sees (on
// Databricks `/tmp/...` is on DBFS).
val dataDir = "examples/data/adult"
val workDir = s"/tmp/bios-adult-quickstart-${System.currentTimeMillis}"

// ---- cell: Load and clean the data ----
// ## Load the Adult CSVs and clean them
//
// The test split is in the original UCI layout: a space after every comma and labels ending in a
// dot (`>50K.`). Trim the strings, give both splits one label spelling, make the numeric columns
// doubles and drop rows without them. Capital gains and losses are zero for most people and
// heavy-tailed for the rest, so the model sees their logarithm and an "any at all" flag; fnlwgt is
// the census's sampling weight, not a property of the person, and stays out. The label fix is a
// Scala UDF: code defined in a notebook cell that runs on the executors.
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.functions.{col, log1p, trim, udf}

val categorical = Array("workclass", "education", "marital_status", "occupation", "relationship", "race", "sex",
  "native_country")
val numeric = Array("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week")
val numericFeatures = Array("age", "education_num", "log_capital_gain", "log_capital_loss", "has_capital_gain",
  "has_capital_loss", "hours_per_week")

val incomeLabel = udf((s: String) => if (s == null) null else s.trim.stripSuffix("."))

def readAdult(file: String): DataFrame = {
  val raw = spark.read.option("header", "true").option("inferSchema", "true")
    .option("ignoreLeadingWhiteSpace", "true").option("ignoreTrailingWhiteSpace", "true")
    .csv(s"$dataDir/$file")
  val labelled = raw.withColumn("income", incomeLabel(col("income")))
  val trimmed = categorical.foldLeft(labelled)((df, c) => df.withColumn(c, trim(col(c))))
  numeric.foldLeft(trimmed)((df, c) => df.withColumn(c, col(c).cast("double"))).na.drop(numeric.toSeq)
    .withColumn("log_capital_gain", log1p(col("capital_gain")))
    .withColumn("log_capital_loss", log1p(col("capital_loss")))
    .withColumn("has_capital_gain", (col("capital_gain") > 0).cast("double"))
    .withColumn("has_capital_loss", (col("capital_loss") > 0).cast("double"))
}

val train = readAdult("adult.csv").cache()
val test = readAdult("adult.test.csv").cache()
println(s"train: ${train.count()} rows, test: ${test.count()} rows")
test.groupBy("income").count().show()

// ---- cell: The pipeline ----
// ## An MLlib pipeline with Bios as its last stage
//
// Ordinary MLlib feature stages index the label and every categorical column (unseen values get
// their own "keep" id) and standardise the numeric columns; the features vector is
// `[numeric..., one id per categorical column...]`. The last stage is a `BiosEstimator` whose network
// embeds each categorical id (a small learned vector per category) beside the numeric block, then
// dense 64 with batch norm and dropout, a residual block with layer norm, dense 32 and two logits.
// AdamW with a cosine learning-rate schedule, 2 workers (2 barrier tasks joined by a ring
// all-reduce), up to 12 epochs: 10% of adult.csv is held out for validation and training stops after
// 3 epochs without a better validation loss, keeping the best epoch's weights. The embedding tables'
// sizes are the columns' cardinalities, known once the indexers have seen the data, so the feature
// stages are fitted once on their own to read them.
import org.apache.spark.ml.{Pipeline, PipelineStage}
import org.apache.spark.ml.feature.{StandardScaler, StringIndexer, StringIndexerModel, VectorAssembler}
import ai.bios.spark.BiosEstimator
import ai.bios.tf.model.{Activation, LayerSpec, ModelSpec}

val indexed = categorical.map(_ + "_idx")
val featureStages: Array[PipelineStage] = Array(
  new StringIndexer().setInputCol("income").setOutputCol("label").setStringOrderType("alphabetAsc"),
  new StringIndexer().setInputCols(categorical).setOutputCols(indexed).setHandleInvalid("keep"),
  new VectorAssembler().setInputCols(numericFeatures).setOutputCol("numeric_raw"),
  new StandardScaler().setInputCol("numeric_raw").setOutputCol("numeric").setWithMean(true),
  new VectorAssembler().setInputCols("numeric" +: indexed).setOutputCol("features"))

val ids = new Pipeline().setStages(featureStages).fit(train).stages(1).asInstanceOf[StringIndexerModel]
val columns: Array[LayerSpec.Column] = LayerSpec.numeric("numeric", 0, numericFeatures.length) +:
  categorical.indices.map { i =>
    val cardinality = ids.labelsArray(i).length + 1 // + the "keep" id
    val dim = math.min(16, math.ceil(math.sqrt(cardinality)).toInt + 1)
    LayerSpec.categorical(categorical(i), numericFeatures.length + i, cardinality, dim)
  }.toArray

val spec = ModelSpec.builder(numericFeatures.length + categorical.length)
  .featureColumns(columns: _*)
  .dense(64, Activation.RELU).batchNorm().dropout(0.2)
  .residual(new LayerSpec.Dense(64, Activation.RELU), new LayerSpec.LayerNorm())
  .dense(32, Activation.RELU).dense(2, Activation.NONE)
  .seed(7).build()
val bios = new BiosEstimator()
  .setModelSpec(spec).setNumWorkers(2).setBatchSize(256).setEpochs(12)
  .setOptimizer("adamw").setLearningRate(0.002).setWeightDecay(0.05).setLearningRateSchedule("cosine")
  .setValidationFraction(0.1).setEarlyStoppingPatience(3)
  .setExecutionMode("efficient").setSeed(7)
val pipeline = new Pipeline().setStages(featureStages :+ bios)
println(s"${columns.length} feature columns -> 64 -> residual 64 -> 32 -> 2; ${bios.getNumWorkers} workers, " +
  s"up to ${bios.getEpochs} epochs")

// ---- cell: Train ----
// ## Fit, with live progress
//
// With the plugin on, the driver prints a line like
// `bios: epoch 2 step 180/508 loss 0.3190 9400 samples/s input-wait 1.2% (rank 1) device-idle ... ETA 9s`
// every `spark.bios.progressInterval` and once at the end. It goes to the driver's standard output:
// spark-shell shows it in place; a notebook that shows only the cell's own output keeps it in the
// driver's stdout log (Databricks: Compute > Driver logs > Standard output). The Spark UI shows the
// fit as the job `Bios fit <uid>: 2 workers, 12 epochs, efficient mode`.
val model = pipeline.fit(train)

// ---- cell: Evaluate ----
// ## Accuracy on the test split
//
// MLlib's evaluator on the pipeline's predictions for adult.test.csv (published reference
// accuracies are about 84-86%).
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator

val scored = model.transform(test)
val accuracy = new MulticlassClassificationEvaluator()
  .setLabelCol("label").setPredictionCol("prediction").setMetricName("accuracy")
  .evaluate(scored)
println(f"accuracy on adult.test.csv: $accuracy%.4f")
scored.select("age", "education", "occupation", "income", "label", "prediction", "probability").show(5, truncate = false)

// ---- cell: Training summary ----
// ## What the fit did
//
// The fitted Bios stage carries its `TrainingSummary`: the per-epoch history (training loss averaged
// over the epoch, validation loss, accuracy and AUC, learning rate), how training ended (epochs run,
// the epoch whose weights were kept, whether it stopped early), and one row per worker (its shard,
// throughput, how long it waited for input, how idle its device was). `summary.toJson` is the same as
// one line of JSON, for dashboards and logs.
import ai.bios.spark.BiosModel
import spark.implicits._

val biosModel = model.stages.last.asInstanceOf[BiosModel]
val summary = biosModel.summary
summary.historyDataFrame(spark).show()
println(f"${summary.epochsRun} epochs, ${summary.steps} steps in ${summary.trainSeconds}%.1f s; kept epoch " +
  f"${summary.bestEpoch}${if (summary.stoppedEarly) " (stopped early)" else ""}; " +
  f"${summary.samplesPerSecond}%.0f samples/s (${summary.mode} mode)")
summary.workers
  .map(w => (w.rank, w.records, w.spilledRecords, w.samplesPerSecond, w.inputWaitFraction, w.deviceIdleFraction,
    w.stepMedianMillis, w.prefetchDepth))
  .toDF("rank", "records", "spilled", "samples_per_s", "input_wait", "device_idle", "step_median_ms", "prefetch")
  .show()
println(summary.toJson)

// ---- cell: Save and reload ----
// ## Save the whole pipeline, load it back
//
// The PipelineModel (feature stages and the trained network) saves like any MLlib model; loaded
// back it predicts exactly what the fitted one does. (A loaded BiosModel has no training summary.)
import org.apache.spark.ml.PipelineModel

val pipelineDir = s"$workDir/adult-pipeline"
model.write.overwrite().save(pipelineDir)
val reloaded = PipelineModel.load(pipelineDir)
val fitted = model.transform(test).select("prediction", "probability").collect()
val loaded = reloaded.transform(test).select("prediction", "probability").collect()
val samePredictions = fitted.length == test.count() && fitted.sameElements(loaded)
println(s"${loaded.length} predictions from the reloaded pipeline, identical to the fitted one's: $samePredictions")
require(samePredictions, "the reloaded pipeline must predict exactly what the fitted one does")

// ---- cell: Export a SavedModel ----
// ## A TensorFlow SavedModel for serving outside Spark
//
// `BiosModel.exportSavedModel` writes the network (without the MLlib feature stages: a server feeds
// it the `features` vector: the standardised numeric columns, then one category id per categorical column) as a SavedModel: tag `serve`, signature `serving_default`,
// input `features`, output `prediction`. Inspect it with
// `saved_model_cli show --dir <dir> --tag_set serve --signature_def serving_default`.
import org.apache.hadoop.fs.Path

val savedModelDir = s"$workDir/adult-savedmodel"
biosModel.exportSavedModel(savedModelDir)
val exportRoot = new Path(savedModelDir)
val fs = exportRoot.getFileSystem(spark.sparkContext.hadoopConfiguration)
val listing = fs.listFiles(exportRoot, true)
val exportedFiles = Iterator.continually(listing).takeWhile(_.hasNext).map(_.next())
  .map(f => (f.getPath.toString.stripPrefix(fs.makeQualified(exportRoot).toString + "/"), f.getLen))
  .toList.sorted
exportedFiles.foreach { case (file, bytes) => println(f"$bytes%10d  $file") }
