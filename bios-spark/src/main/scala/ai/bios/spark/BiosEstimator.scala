package ai.bios.spark

import ai.bios.spark.internal.{BarrierTraining, ClusterChecks, FaultInjection, HadoopCheckpointStore, RowDecoder}
import ai.bios.tf.collective.RingOptions
import ai.bios.tf.exec.{PrefetchDepth, TrainingConfig}
import ai.bios.tf.model.ModelSpec
import org.apache.spark.internal.Logging
import org.apache.spark.ml.Estimator
import org.apache.spark.ml.attribute.AttributeGroup
import org.apache.spark.ml.linalg.SQLDataTypes
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.ml.util.{DefaultParamsReadable, DefaultParamsWritable, Identifiable}
import org.apache.spark.sql.Dataset
import org.apache.spark.sql.types.StructType

import java.security.SecureRandom
import java.time.Duration

/**
 * Trains a TensorFlow model on a DataFrame, data-parallel over `numWorkers` barrier tasks (one per
 * GPU executor) joined by a ring all-reduce. Usable from Scala, Java and as a Pipeline stage.
 *
 * {{{
 * val bios = new BiosEstimator()
 *   .setModelSpec(ModelSpec.builder(108).dense(64, Activation.RELU).dense(2, Activation.NONE).build())
 *   .setNumWorkers(2).setBatchSize(256).setEpochs(8)
 *   .setExecutionMode("efficient").setPrefetchDepth("auto")
 * val model = bios.fit(train)
 * model.transform(test)
 * }}}
 */
class BiosEstimator(override val uid: String) extends Estimator[BiosModel] with BiosParams
  with DefaultParamsWritable with Logging {

  def this() = this(Identifiable.randomUID("bios"))

  def setFeaturesCol(v: String): this.type = set(featuresCol, v)
  def setLabelCol(v: String): this.type = set(labelCol, v)
  def setPredictionCol(v: String): this.type = set(predictionCol, v)
  def setProbabilityCol(v: String): this.type = set(probabilityCol, v)
  def setModelSpec(v: ModelSpec): this.type = set(modelSpec, v.toJson)
  def setModelSpecJson(v: String): this.type = set(modelSpec, v)
  /** sgd, momentum or adam. Default: adam. */
  def setOptimizer(v: String): this.type = set(optimizer, v)
  /** Default: 0.001. */
  def setLearningRate(v: Double): this.type = set(learningRate, v)
  /** Global batch size. Default: 256. */
  def setBatchSize(v: Int): this.type = set(batchSize, v)
  /** Default: 1. */
  def setEpochs(v: Int): this.type = set(epochs, v)
  /** Default: 1. */
  def setNumWorkers(v: Int): this.type = set(numWorkers, v)
  /** simple or efficient. Default: efficient. */
  def setExecutionMode(v: String): this.type = set(executionMode, v)
  /** A whole number >= 1, or auto. Default: auto. */
  def setPrefetchDepth(v: String): this.type = set(prefetchDepth, v)
  def setPrefetchDepth(v: Int): this.type = set(prefetchDepth, v.toString)
  /** Default: 0. */
  def setSeed(v: Long): this.type = set(seed, v)
  /** Default: true. */
  def setShuffle(v: Boolean): this.type = set(shuffle, v)
  /** Default: 8192. */
  def setShuffleWindow(v: Int): this.type = set(shuffleWindow, v)
  /** shuffle or direct. Default: shuffle. */
  def setSharding(v: String): this.type = set(sharding, v)
  def setCheckpointDir(v: String): this.type = set(checkpointDir, v)
  def setCheckpointInterval(v: Int): this.type = set(checkpointInterval, v)

  override def transformSchema(schema: StructType): StructType = {
    validate(schema)
    BiosModel.outputSchema(schema, getModelSpec, getPredictionCol, getProbabilityCol)
  }

  /** Every check that needs no cluster work; errors name the column or param, the value and the fix. */
  private def validate(schema: StructType): ModelSpec = {
    val spec = getModelSpec
    RowDecoder.validateSchema(schema, getFeaturesCol, Some(getLabelCol))
    val field = schema(getFeaturesCol)
    val declared = if (field.dataType == SQLDataTypes.VectorType) AttributeGroup.fromStructField(field).size else -1
    if (declared >= 0 && declared != spec.featureSize()) {
      throw new IllegalArgumentException(s"features column '$getFeaturesCol' holds vectors of size $declared " +
        s"but the model spec's input has ${spec.featureSize()} values (${spec.inputShape()}); make them agree")
    }
    if (getBatchSize < getNumWorkers) {
      throw new IllegalArgumentException(s"batchSize=$getBatchSize is smaller than numWorkers=$getNumWorkers: " +
        "every worker needs at least one record per step; raise batchSize or lower numWorkers")
    }
    if (getCheckpointInterval > 0 && getCheckpointDir.isEmpty) {
      throw new IllegalArgumentException(s"checkpointInterval=$getCheckpointInterval needs a checkpointDir; " +
        "set checkpointDir to a directory on a shared file system (hdfs://, s3a://, ...)")
    }
    spec
  }

  override def fit(dataset: Dataset[_]): BiosModel = {
    val spec = validate(dataset.schema)
    val df = dataset.toDF()
    val sc = df.sparkSession.sparkContext
    ClusterChecks.check(sc, getNumWorkers)
    if (getSharding == "direct") {
      ClusterChecks.checkDirectInput(df.rdd, getNumWorkers)
    }
    if (df.isEmpty) {
      throw new IllegalArgumentException("the training DataFrame is empty; check the input path and filters")
    }
    val config = TrainingConfig.builder()
      .mode(mode).prefetchDepth(PrefetchDepth.parse(getPrefetchDepth))
      .batchSize(getBatchSize).epochs(getEpochs).seed(getSeed).shuffle(getShuffle)
      .shuffleWindow(getShuffleWindow)
      .checkpointInterval(getCheckpointInterval)
      .build()
    val schema = df.schema
    val decoder = new RowDecoder(getFeaturesCol, schema.fieldIndex(getFeaturesCol), spec.featureSize(),
      getLabelCol, schema.fieldIndex(getLabelCol), spec.labelWidth(), "the training data", spec.loss(), spec.outputs())
    val secret = new Array[Byte](32)
    new SecureRandom().nextBytes(secret)
    val timeout = Duration.ofSeconds(sc.getConf.getTimeAsSeconds("spark.bios.collectiveTimeout", "600s"))
    val checkpoints = Option(getCheckpointDir).filter(_.nonEmpty).map { dir =>
      val store = HadoopCheckpointStore(dir, sc.getConf.getInt("spark.bios.keepCheckpoints", 3), sc.hadoopConfiguration)
      // Fail now, on the driver, if the directory cannot be written or holds another run.
      store.probeWritable()
      store.latestIdentity().foreach { id =>
        def differs(what: String, got: Any, want: Any): Unit = if (got != want) {
          throw new IllegalArgumentException(s"checkpointDir $dir holds a checkpoint of a different run: its $what " +
            s"is $got, this fit's is $want; use the same settings to resume it, or an empty checkpointDir")
        }
        differs("model spec", id.modelSpecJson(), spec.toJson)
        differs("optimizer", id.optimizer(), optimizerSpec.toString)
        differs("batchSize", id.batchSize(), getBatchSize)
        differs("seed", id.seed(), getSeed)
        differs("numWorkers", id.workers(), getNumWorkers)
        if (id.stepsPerEpoch() < 0) { // taken inside the streamed first epoch: its order must replay
          differs("first epoch's shuffle window (shuffleWindow, or 1 without shuffle)", id.firstEpochWindow(),
            if (getShuffle) getShuffleWindow else 1)
        }
      }
      store
    }
    val job = BarrierTraining.Job(spec.toJson, optimizerSpec, config, decoder, spec.featureSize(),
      spec.labelWidth(), secret, timeout, RingOptions.DEFAULT_CHUNK_FLOATS, checkpoints, FaultInjection.fromConf(sc.getConf, sc.getLocalProperty(FaultInjection.Key)),
      encrypt = sc.getConf.getBoolean("spark.network.crypto.enabled", defaultValue = false),
      cacheMemoryBytes = org.apache.spark.network.util.JavaUtils.byteStringAsBytes(
        Option(sc.getLocalProperty("spark.bios.cacheMemory")).getOrElse(sc.getConf.get("spark.bios.cacheMemory", "1g"))),
      runId = s"$uid-${java.util.UUID.randomUUID()}")
    // The rendezvous (one allGather) waits as long as Spark's barrier sync timeout allows.
    if (sc.getConf.getTimeAsSeconds("spark.barrier.sync.timeout", "365d") > 3600) {
      logWarning("spark.barrier.sync.timeout is over an hour: a worker that never reaches the rendezvous " +
        "holds the others that long; set it to e.g. 3600s (conf/bios-defaults.conf does)")
    }
    if (!sc.getConf.get("spark.plugins", "").contains("ai.bios.spark.BiosPlugin")) {
      logInfo("Training without live progress on the driver: add spark.plugins=ai.bios.spark.BiosPlugin")
    }
    val t0 = System.nanoTime()
    val results = BarrierTraining.run(df, job, getNumWorkers, direct = getSharding == "direct")
    val seconds = (System.nanoTime() - t0) / 1e9
    val summary = TrainingSummary(results.head.losses, results.head.losses.length.toLong, seconds,
      getExecutionMode, results.map(_.summary))
    logInfo(summary.toString)
    copyValues(new BiosModel(uid, results.head.weights).setParent(this)).setSummary(summary)
  }

  override def copy(extra: ParamMap): BiosEstimator = defaultCopy(extra)
}

object BiosEstimator extends DefaultParamsReadable[BiosEstimator] {
  override def load(path: String): BiosEstimator = super.load(path)
}
