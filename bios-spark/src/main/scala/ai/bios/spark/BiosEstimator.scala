package ai.bios.spark

import ai.bios.spark.conf.BiosConf
import ai.bios.spark.internal.{BarrierTraining, ClusterChecks, FitErrors, FitOutputs, HadoopCheckpointStore,
  RingSecret, RowDecoder, TrainingHooks, TransformRunner}
import ai.bios.spark.transform.RecordTransform
import ai.bios.tf.checkpoint.RunIdentity
import ai.bios.tf.collective.RingOptions
import ai.bios.tf.exec.{ExecutionMode, PrefetchDepth, TrainingConfig, ValidationMetric}
import ai.bios.tf.model.{LearningRateSchedule, ModelSpec, OptimizerSpec}
import org.apache.spark.internal.Logging
import org.apache.spark.ml.Estimator
import org.apache.spark.ml.attribute.AttributeGroup
import org.apache.spark.ml.linalg.SQLDataTypes
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.ml.bios.SparkInternals
import org.apache.spark.ml.util.{DefaultParamsReadable, DefaultParamsWritable, Identifiable, MLReader, MLWriter}
import org.json4s.JsonAST.JObject
import org.apache.spark.sql.{DataFrame, Dataset, functions}
import org.apache.spark.sql.types.{BooleanType, DoubleType, StructType}


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
  /** sgd, momentum, adam, rmsprop, adagrad or adamw (any case). Default: adam. */
  def setOptimizer(v: String): this.type = set(optimizer, BiosParams.lower(BiosParams.param(OptimizerSpec.parse(v, 1.0)).kind().name()))
  /** Default: 0.001. */
  def setLearningRate(v: Double): this.type = set(learningRate, v)
  /** adamw's decoupled weight decay of kernels, >= 0. Default: 0.01 (used by adamw only). */
  def setWeightDecay(v: Double): this.type = set(weightDecay, v)
  /** Coupled L2 penalty on kernels, >= 0. Default: 0 (off). */
  def setL2(v: Double): this.type = set(l2, v)
  /** Clip the mean gradient to this global norm, >= 0. Default: 0 (off). */
  def setClipNorm(v: Double): this.type = set(clipNorm, v)
  /**
   * constant, cosine, cosine:TOTAL, cosine:TOTAL:FLOOR, step:EVERY:FACTOR or exponential:EVERY:RATE
   * (any case; see the param's doc). Default: constant.
   */
  def setLearningRateSchedule(v: String): this.type =
    set(learningRateSchedule, BiosParams.param(LearningRateSchedule.parse(v, 0)).spec())
  /** The schedule and its warm-up. */
  def setLearningRateSchedule(v: LearningRateSchedule): this.type =
    set(learningRateSchedule, v.spec()).setWarmupSteps(v.warmupSteps())
  /** Steps of linear warm-up from 0 to learningRate, >= 0. Default: 0. */
  def setWarmupSteps(v: Long): this.type = set(warmupSteps, v)
  /** Global batch size: records per step across all workers. Default: 256. */
  def setBatchSize(v: Int): this.type = set(batchSize, v)
  /** Default: 1. */
  def setEpochs(v: Int): this.type = set(epochs, v)
  /** Default: 1. */
  def setNumWorkers(v: Int): this.type = set(numWorkers, v)
  /** simple or efficient (any case). Default: efficient. */
  def setExecutionMode(v: String): this.type = setExecutionMode(BiosParams.param(ExecutionMode.parse(v)))
  def setExecutionMode(v: ExecutionMode): this.type = set(executionMode, BiosParams.lower(v.name()))
  /** A whole number >= 1, or auto. Default: auto. */
  def setPrefetchDepth(v: String): this.type = setPrefetchDepth(BiosParams.param(PrefetchDepth.parse(v)))
  def setPrefetchDepth(v: Int): this.type = setPrefetchDepth(BiosParams.param(PrefetchDepth.of(v)))
  def setPrefetchDepth(v: PrefetchDepth): this.type = set(prefetchDepth, v.toString)
  /** Default: 0. */
  def setSeed(v: Long): this.type = set(seed, v)
  /** Default: true. */
  def setShuffle(v: Boolean): this.type = set(shuffle, v)
  /** Default: 8192. */
  def setShuffleWindow(v: Int): this.type = set(shuffleWindow, v)
  /** shuffle or direct (any case). Default: shuffle. */
  def setSharding(v: String): this.type = set(sharding, BiosParams.parseSharding(v))
  def setCheckpointDir(v: String): this.type = set(checkpointDir, v)
  def setCheckpointInterval(v: Int): this.type = set(checkpointInterval, v)
  /** TensorBoard event files, one run directory per fit, on any Hadoop file system. Default: "" (off). */
  def setTensorBoardDir(v: String): this.type = set(tensorBoardDir, v)
  /** An HTML training report per fit, on any Hadoop file system. Default: "" (off). */
  def setReportDir(v: String): this.type = set(reportDir, v)

  // ---- Validation and early stopping ----
  /** Boolean column marking validation rows (true), like Horovod's. Default: "" (none). */
  def setValidationIndicatorCol(v: String): this.type = set(validationIndicatorCol, v)
  /** Share of rows held out for validation, picked by a hash of (seed, features, label). Default: 0 (none). */
  def setValidationFraction(v: Double): this.type = set(validationFraction, v)
  /** Epochs without improvement before stopping (restoring the best epoch's weights). Default: 0 (off). */
  def setEarlyStoppingPatience(v: Int): this.type = set(earlyStoppingPatience, v)
  /** val_loss, val_accuracy or val_auc (any case). Default: val_loss. */
  def setEarlyStoppingMetric(v: String): this.type =
    set(earlyStoppingMetric, BiosParams.param(ValidationMetric.parse(v)).label())
  /** Least change that counts as an improvement. Default: 0. */
  def setEarlyStoppingMinDelta(v: Double): this.type = set(earlyStoppingMinDelta, v)

  // ---- Losses and weights ----
  def setWeightCol(v: String): this.type = set(weightCol, v)
  def setClassWeights(v: String): this.type = set(classWeights, v)
  def setClassWeights(v: Array[Double]): this.type = set(classWeights, v.mkString(","))
  def setLabelSmoothing(v: Double): this.type = set(labelSmoothing, v)

  // ---- Input transforms ----
  private var transform: Option[RecordTransform] = None

  /**
   * Makes the features with `t` inside the training tasks, from its input columns (featuresCol is
   * then not read): `fit` checks `t` against the schema, fits it on the training rows only
   * (`t.fit`; validation rows are left out, so they do not shape a learned vocabulary, say),
   * checks the fitted transform against the schema and its featureSize against the model's input,
   * and trains with a copy of the fitted transform, which the model keeps (and saves) for
   * `transform`: changing `t` after the fit does not change the model. null: none (the default).
   */
  def setTransform(t: RecordTransform): this.type = {
    transform = Option(t)
    this
  }

  /** The input transform (null: none). */
  def getTransform: RecordTransform = transform.orNull

  /** auto or a whole number >= 1 (any case). Default: auto (the task's CPUs less one, at least 1). */
  def setInputThreads(v: String): this.type = set(inputThreads, BiosParams.lower(v))
  def setInputThreads(v: Int): this.type = setInputThreads(v.toString)
  /** Keep transformed features, not the input columns, in the task's cache. Default: false. */
  def setCacheTransformed(v: Boolean): this.type = set(cacheTransformed, v)

  override def transformSchema(schema: StructType): StructType = {
    validate(schema)
    BiosModel.outputSchema(schema, getModelSpec, getPredictionCol, getProbabilityCol)
  }

  /** Every check that needs no cluster work; errors name the column or param, the value and the fix. */
  private def validate(schema: StructType): ModelSpec = {
    val spec = getModelSpec
    transform match {
      case Some(t) =>
        RowDecoder.validateLabel(schema, getLabelCol)
        TransformRunner.validate(t, schema)
      case None =>
        RowDecoder.validateSchema(schema, getFeaturesCol, Some(getLabelCol))
        val field = schema(getFeaturesCol)
        val declared = if (field.dataType == SQLDataTypes.VectorType) AttributeGroup.fromStructField(field).size else -1
        if (declared >= 0 && declared != spec.featureSize()) {
          throw new IllegalArgumentException(s"features column '$getFeaturesCol' holds vectors of size $declared " +
            s"but the model spec's input has ${spec.featureSize()} values (${spec.inputShape()}); make them agree")
        }
    }
    if (getBatchSize < getNumWorkers) {
      throw new IllegalArgumentException(s"batchSize=$getBatchSize is smaller than numWorkers=$getNumWorkers: " +
        "every worker needs at least one record per step; raise batchSize or lower numWorkers")
    }
    validateValidation(schema)
    // Losses and weights: the weight column's type, and the loss settings against the model's outputs.
    RowDecoder.validateWeightColumn(schema, getWeightCol)
    BiosParams.param(getLossOptions.requireFits(spec))
    if (getCheckpointInterval > 0 && getCheckpointDir.isEmpty) {
      throw new IllegalArgumentException(s"checkpointInterval=$getCheckpointInterval needs a checkpointDir; " +
        "set checkpointDir to a directory on a shared file system (hdfs://, s3a://, ...)")
    }
    getOptimizerSpec // the optimizer params together (weightDecay on adamw only, warmupSteps within the schedule)
    spec
  }

  /** The validation params against each other and the schema. */
  private def validateValidation(schema: StructType): Unit = {
    val indicator = getValidationIndicatorCol
    if (indicator.nonEmpty) {
      val field = schema.fields.find(_.name == indicator).getOrElse(throw new IllegalArgumentException(
        s"validationIndicatorCol '$indicator' does not exist; columns are ${schema.fieldNames.mkString(", ")} " +
          "(set validationIndicatorCol to a boolean column, or to \"\" for none)"))
      if (field.dataType != BooleanType) {
        throw new IllegalArgumentException(s"validationIndicatorCol '$indicator' has type " +
          s"${field.dataType.simpleString}; it must be boolean (true: validation row), e.g. col(...) === 1")
      }
      if (getValidationFraction > 0) {
        throw new IllegalArgumentException(s"validationIndicatorCol='$indicator' and validationFraction=" +
          s"$getValidationFraction both choose validation rows; set only one of them")
      }
    }
    val stopping = getEarlyStopping
    if (stopping.enabled() && indicator.isEmpty && getValidationFraction == 0) {
      throw new IllegalArgumentException(s"earlyStoppingPatience=${stopping.patience()} needs validation rows to " +
        s"watch ${stopping.metric().label()}; set validationIndicatorCol or validationFraction, or " +
        "earlyStoppingPatience=0")
    }
  }

  /**
   * `df` with the validation rows marked, and where to find the mark: the indicator column, or
   * (validationFraction) an added column true where a 53-bit hash of (seed, features, label) (with
   * an input transform: its input columns instead of the features), as a
   * fraction of 2^53, falls below the fraction: the same rows on every rerun, whatever the
   * partitioning and row order.
   */
  private def markValidation(df: DataFrame, t: Option[RecordTransform]): (DataFrame, Option[BarrierTraining.ValidationRows]) = {
    if (getValidationIndicatorCol.nonEmpty) {
      (df, Some(BarrierTraining.ValidationRows(df.schema.fieldIndex(getValidationIndicatorCol),
        getValidationIndicatorCol, "validationIndicatorCol")))
    } else if (getValidationFraction > 0) {
      val inputs = t.map(_.inputCols.toSeq).getOrElse(Seq(getFeaturesCol))
      val hash = functions.xxhash64(Seq(functions.lit(getSeed)) ++ inputs.map(functions.col) :+ functions.col(getLabelCol): _*)
      val u = hash.bitwiseAND(functions.lit((1L << 53) - 1)).cast(DoubleType) / functions.lit(math.pow(2, 53))
      val marked = df.withColumn(BiosEstimator.FractionColumn, u < getValidationFraction)
      (marked, Some(BarrierTraining.ValidationRows(marked.schema.fieldIndex(BiosEstimator.FractionColumn),
        BiosEstimator.FractionColumn, "validationFraction")))
    } else {
      (df, None)
    }
  }

  /**
   * The input transform fitted on the training rows of `df` (the validation rows left out), checked
   * against the schema, the model and params (its featureSize is the model's; cacheTransformed
   * needs a deterministic transform), and copied: nothing the caller holds can change it.
   */
  private def fitTransform(df: DataFrame, validation: Option[BarrierTraining.ValidationRows],
      spec: ModelSpec): Option[RecordTransform] = transform.map { t =>
    val training = validation match {
      case Some(v) =>
        val kept = df.filter(!functions.col(v.column))
        if (v.column == BiosEstimator.FractionColumn) kept.drop(v.column) else kept
      case None => df
    }
    val fitted = BiosModel.copyOf(Option(t.fit(training)).getOrElse(throw new IllegalArgumentException(
      s"the input transform ${t.getClass.getName}'s fit returned null; return the fitted transform (or this)")))
    TransformRunner.validate(fitted, df.schema)
    TransformRunner.checkSize(fitted, spec)
    if (getCacheTransformed && !fitted.deterministic) {
      throw new IllegalArgumentException(s"cacheTransformed=true needs a deterministic input transform, but " +
        s"${fitted.getClass.getName}.deterministic is false (it augments or draws randomness); set " +
        "cacheTransformed=false to transform every epoch, or make the transform deterministic")
    }
    fitted
  }

  override def fit(dataset: Dataset[_]): BiosModel = {
    val spec = validate(dataset.schema)
    val (df, validationRows) = markValidation(dataset.toDF(), transform)
    val fitted = fitTransform(df, validationRows, spec)
    val session = df.sparkSession
    val sc = session.sparkContext
    val direct = getSharding == "direct"
    ClusterChecks.check(sc, getNumWorkers, BiosConf.ExecutorWait.get(session).toMillis)
    if (direct) {
      ClusterChecks.checkDirectInput(df.rdd, getNumWorkers)
    }
    if (df.isEmpty) {
      throw new IllegalArgumentException("the training DataFrame is empty; check the input path and filters")
    }
    val config = TrainingConfig.builder()
      .mode(getExecutionMode).prefetchDepth(getPrefetchDepth)
      .prefetchMemoryBytes(BiosConf.PrefetchMemory.get(session))
      .inputTimeout(BiosConf.InputTimeout.get(session))
      .batchSize(getBatchSize).epochs(getEpochs).seed(getSeed).shuffle(getShuffle)
      .shuffleWindow(getShuffleWindow)
      .checkpointInterval(getCheckpointInterval)
      .build()
    val optimizerSpec = fitOptimizer(df, config, direct, validationRows)
    val schema = df.schema
    val decoder = new RowDecoder(if (fitted.isDefined) "" else getFeaturesCol,
      if (fitted.isDefined) -1 else schema.fieldIndex(getFeaturesCol), spec.featureSize(),
      getLabelCol, schema.fieldIndex(getLabelCol), spec.labelWidth(), "the training data", spec.loss(), spec.outputs(), spec,
      getWeightCol, if (getWeightCol.isEmpty) -1 else schema.fieldIndex(getWeightCol))
    val checkpoints = Option(getCheckpointDir).filter(_.nonEmpty).map { dir =>
      val store = HadoopCheckpointStore(dir, BiosConf.KeepCheckpoints.get(session), sc.hadoopConfiguration)
      // Fail now, on the driver, if the directory cannot be written or holds another run.
      store.probeWritable()
      // What this fit can know before training; steps per epoch (-1) is not compared.
      val wanted = new RunIdentity(spec.toJson, getLossOptions.identityWith(optimizerSpec.toString), getBatchSize, getSeed, getShuffle,
        getNumWorkers, -1, if (getShuffle) getShuffleWindow else 1)
      store.latestIdentity().map(_.differences(wanted)).filter(!_.isEmpty).foreach { differences =>
        throw new IllegalArgumentException(RunIdentity.mismatch(s"the newest checkpoint in checkpointDir $dir", differences))
      }
      store
    }
    val secret = RingSecret.forFit()
    val ring = RingOptions.of(secret.nonce)
      .withTimeout(BiosConf.CollectiveTimeout.get(session))
      .withAuthTimeout(BiosConf.RingAuthTimeout.get(session))
      .withChunkFloats((BiosConf.RingChunkSize.get(session) / 4).toInt)
      .withEncrypt(sc.getConf.getBoolean("spark.network.crypto.enabled", defaultValue = false))
    val job = BarrierTraining.Job(spec.toJson, optimizerSpec, config, decoder, spec.featureSize(),
      spec.labelWidth(), ring, secret, BiosConf.RendezvousTimeout.get(session), checkpoints, TrainingHooks.load(session),
      cacheMemoryBytes = BiosConf.CacheMemory.get(session),
      mapsAhead = BiosConf.ShuffleMapsAhead.get(session),
      runId = s"$uid-${java.util.UUID.randomUUID()}",
      validation = validationRows, earlyStopping = getEarlyStopping, loss = getLossOptions,
      transform = fitted.map(TransformRunner.of(_, schema, spec, getSeed, "the training data")),
      cacheTransformed = getCacheTransformed, inputThreads = BiosParams.parseInputThreads($(inputThreads)))
    val outputs = FitOutputs.open(getTensorBoardDir, getReportDir, uid, job.runId, sc.hadoopConfiguration)
    if (!sc.getConf.get("spark.plugins", "").contains(classOf[BiosPlugin].getName)) {
      logInfo(s"Training without live progress on the driver: add spark.plugins=${classOf[BiosPlugin].getName}")
    }
    val t0 = System.nanoTime()
    val results = try FitErrors.asFit(sc, s"bios-$uid",
        s"Bios fit $uid: $getNumWorkers workers, $getEpochs epochs, ${BiosParams.lower(getExecutionMode.name())} mode") {
      BarrierTraining.run(df, job, getNumWorkers, direct)
    } catch { case e: Throwable => outputs.close(); throw e }
    val seconds = (System.nanoTime() - t0) / 1e9
    val trained = TrainingSummary(results.head.losses, results.head.losses.length.toLong, seconds,
      BiosParams.lower(getExecutionMode.name()), results.map(_.summary), results.head.epochs,
      results.head.bestEpoch, results.head.stoppedEarly)
    val summary = outputs.finish(trained, optimizerSpec.learningRateAt, FitOutputs.epochMetrics(trained),
      extractParamMap().toSeq.map(p => p.param.name -> String.valueOf(p.value)).sortBy(_._1), s"Bios fit ${outputs.runName}")
    logInfo(summary.toString)
    copyValues(new BiosModel(uid, results.head.weights).setParent(this)).setSummary(summary).keepTransform(fitted)
  }

  /**
   * The optimizer of this fit. A cosine schedule left at auto gets the run's total steps (epochs
   * times the steps per epoch the workers will agree on), from the training rows each worker will hold:
   * that costs one count of every input partition, an extra pass over the input; give the total
   * (cosine:TOTAL) to skip it.
   */
  private def fitOptimizer(df: DataFrame, config: TrainingConfig, direct: Boolean,
      validation: Option[BarrierTraining.ValidationRows]): OptimizerSpec = {
    val opt = getOptimizerSpec
    if (!opt.schedule().needsTotalSteps()) {
      opt
    } else {
      val shards = BarrierTraining.trainingShardSizes(df, getNumWorkers, direct, validation)
      val steps = config.stepsPerEpoch(shards)
      val total = config.totalSteps(steps)
      logInfo(s"learningRateSchedule ${opt.schedule().spec()}: $total total steps ($getEpochs epochs of $steps " +
        s"steps over ${shards.sum} training rows)")
      BiosParams.param(opt.withSchedule(opt.schedule().withTotalSteps(total)))
    }
  }

  /** Saves the params and, if set, the input transform (`data/transform.ser`, as [[BiosModel]] does). */
  override def write: MLWriter = new MLWriter {
    override protected def saveImpl(path: String): Unit = {
      SparkInternals.saveMetadata(BiosEstimator.this, path, sc, JObject())
      transform.foreach(BiosModel.saveTransform(_, path, sc.hadoopConfiguration))
    }
  }

  /** A copy with `extra` params (MLlib's Pipeline and tuning call it), keeping the input transform. */
  override def copy(extra: ParamMap): BiosEstimator = defaultCopy[BiosEstimator](extra).setTransform(transform.orNull)
}

object BiosEstimator extends DefaultParamsReadable[BiosEstimator] {
  /** The column `fit` adds for validationFraction: true on the validation rows. */
  private[spark] val FractionColumn = "__bios_validation"

  override def load(path: String): BiosEstimator = super.load(path)

  /** Reads the params and the input transform, if one was saved. */
  override def read: MLReader[BiosEstimator] = new MLReader[BiosEstimator] {
    override def load(path: String): BiosEstimator = {
      val (uid, setParams) = SparkInternals.loadMetadata(path, sc, classOf[BiosEstimator].getName)
      val estimator = new BiosEstimator(uid)
      setParams(estimator)
      estimator.setTransform(BiosModel.loadTransform(path, sc.hadoopConfiguration).orNull)
    }
  }
}
