package ai.bios.spark

import ai.bios.tf.InvalidSettingException
import ai.bios.tf.exec.{EarlyStopping, ExecutionMode, PrefetchDepth, TrainingConfig, ValidationMetric}
import ai.bios.tf.model.{ModelSpec, OptimizerSpec}
import org.apache.spark.ml.param._

import java.util.Locale

/**
 * The parameters of [[BiosEstimator]] and [[BiosModel]], MLlib style: declared once with their
 * doc and validator; all defaults in one `setDefault`, taken from the engine's where it has one.
 *
 * Choice params are stored as lower-case strings (so saved pipelines stay readable) and read back
 * typed (`getExecutionMode` is an [[ExecutionMode]]). Their validators are the engine's own parsers:
 * any case is accepted, and a bad value fails with the engine's message (the param, the value and
 * what it must be), whether it comes through a setter, a `ParamMap` or a loaded pipeline.
 */
trait BiosParams extends Params {

  final val featuresCol = new Param[String](this, "featuresCol",
    "features column: an ml Vector or array<float|double>, of the model's input size")
  final val labelCol = new Param[String](this, "labelCol",
    "label column: a class index (softmax), 0/1 (sigmoid), a number or vector (squared error)")
  final val predictionCol = new Param[String](this, "predictionCol", "prediction column to add")
  final val probabilityCol = new Param[String](this, "probabilityCol",
    "class probability vector column to add (classification models)")
  final val modelSpec = new Param[String](this, "modelSpec",
    "the network as ModelSpec JSON (ModelSpec.builder(...).build().toJson)",
    (json: String) => BiosParams.valid(ModelSpec.fromJson(json)))
  final val optimizer = new Param[String](this, "optimizer", "sgd, momentum or adam",
    (v: String) => BiosParams.valid(OptimizerSpec.parse(v, 1.0)))
  final val learningRate = new DoubleParam(this, "learningRate", "optimizer step size, > 0",
    ParamValidators.gt(0.0))
  final val batchSize = new IntParam(this, "batchSize",
    "global batch size: records per step across all workers, >= numWorkers", ParamValidators.gtEq(1))
  final val epochs = new IntParam(this, "epochs", "passes over the data, >= 1", ParamValidators.gtEq(1))
  final val numWorkers = new IntParam(this, "numWorkers",
    "training tasks (one per GPU executor), run as one barrier stage", ParamValidators.gtEq(1))
  final val executionMode = new Param[String](this, "executionMode",
    "simple (serial) or efficient (input queued ahead, reports and checkpoints off the critical path)",
    (v: String) => BiosParams.valid(ExecutionMode.parse(v)))
  final val prefetchDepth = new Param[String](this, "prefetchDepth",
    "batches queued ahead per worker: a whole number >= 1, or auto",
    (v: String) => BiosParams.valid(PrefetchDepth.parse(v)))
  final val seed = new LongParam(this, "seed", "seed of the data order")
  final val shuffle = new BooleanParam(this, "shuffle",
    "whether each worker visits its shard in a fresh order every epoch (drawn from seed, epoch and rank)")
  final val shuffleWindow = new IntParam(this, "shuffleWindow",
    "records the first epoch draws from at random while the shard is still streaming in (later epochs " +
      "shuffle the whole shard); raise it for data stored sorted by label, >= 1", ParamValidators.gtEq(1))
  final val sharding = new Param[String](this, "sharding",
    "how rows reach the workers: shuffle (dealt round-robin by a shuffle whose map side runs the upstream " +
      "ETL on every core and checks each row before training; balanced shards from any partitioning) or " +
      "direct (input partition i feeds worker i as is, so the upstream ETL runs lazily inside the training " +
      "task while the first epoch trains; needs exactly numWorkers partitions)",
    (v: String) => BiosParams.valid(BiosParams.parseSharding(v)))
  final val checkpointDir = new Param[String](this, "checkpointDir",
    "directory for checkpoints (empty: none)")
  final val checkpointInterval = new IntParam(this, "checkpointInterval",
    "steps between checkpoints (0: none)", ParamValidators.gtEq(0))

  setDefault(
    featuresCol -> "features",
    labelCol -> "label",
    predictionCol -> "prediction",
    probabilityCol -> "probability",
    optimizer -> "adam",
    learningRate -> 0.001,
    batchSize -> TrainingConfig.DEFAULT_BATCH_SIZE,
    epochs -> 1,
    numWorkers -> 1,
    executionMode -> BiosParams.lower(TrainingConfig.builder().build().mode().name()),
    prefetchDepth -> TrainingConfig.builder().build().prefetchDepth().toString,
    seed -> 0L,
    shuffle -> true,
    shuffleWindow -> TrainingConfig.DEFAULT_SHUFFLE_WINDOW,
    sharding -> "shuffle",
    checkpointDir -> "",
    checkpointInterval -> 0)

  def getFeaturesCol: String = $(featuresCol)
  def getLabelCol: String = $(labelCol)
  def getPredictionCol: String = $(predictionCol)
  def getProbabilityCol: String = $(probabilityCol)
  def getModelSpec: ModelSpec = {
    if (!isDefined(modelSpec)) {
      throw new IllegalArgumentException(
        "param modelSpec is not set; call setModelSpec(ModelSpec.builder(inputSize)...build())")
    }
    ModelSpec.fromJson($(modelSpec))
  }
  /** The optimizer's name, lower case. */
  def getOptimizer: String = BiosParams.lower($(optimizer))
  /** The optimizer with the learning rate. */
  def getOptimizerSpec: OptimizerSpec = BiosParams.param(OptimizerSpec.parse($(optimizer), $(learningRate)))
  def getLearningRate: Double = $(learningRate)
  def getBatchSize: Int = $(batchSize)
  def getEpochs: Int = $(epochs)
  def getNumWorkers: Int = $(numWorkers)
  def getExecutionMode: ExecutionMode = BiosParams.param(ExecutionMode.parse($(executionMode)))
  def getPrefetchDepth: PrefetchDepth = BiosParams.param(PrefetchDepth.parse($(prefetchDepth)))
  def getSeed: Long = $(seed)
  def getShuffle: Boolean = $(shuffle)
  def getShuffleWindow: Int = $(shuffleWindow)
  /** shuffle or direct. */
  def getSharding: String = BiosParams.parseSharding($(sharding))
  def getCheckpointDir: String = $(checkpointDir)
  def getCheckpointInterval: Int = $(checkpointInterval)

  // ---- Validation and early stopping (one block; defaults set here) ----

  final val validationIndicatorCol = new Param[String](this, "validationIndicatorCol",
    "boolean column: rows where it is true are validation rows, evaluated at the end of every epoch and " +
      "never trained on (empty: none)")
  final val validationFraction = new DoubleParam(this, "validationFraction",
    "share of rows held out for validation, in [0, 1) (0: none); a row is held out when a hash of (seed, its " +
      "features, its label) falls below the fraction, so the same rows are picked on every rerun whatever " +
      "the partitioning (identical rows go to the same side)",
    (v: Double) => BiosParams.valid(BiosParams.checkFraction(v)))
  final val earlyStoppingPatience = new IntParam(this, "earlyStoppingPatience",
    "epochs without improvement of earlyStoppingMetric before training stops and the best epoch's weights " +
      "are restored (0: off); needs validation rows",
    (v: Int) => BiosParams.valid(new EarlyStopping(ValidationMetric.VAL_LOSS, v, 0)))
  final val earlyStoppingMetric = new Param[String](this, "earlyStoppingMetric",
    "what early stopping watches: val_loss (lower is better), val_accuracy or val_auc (higher is better; " +
      "val_auc for binary classifiers)",
    (v: String) => BiosParams.valid(ValidationMetric.parse(v)))
  final val earlyStoppingMinDelta = new DoubleParam(this, "earlyStoppingMinDelta",
    "the least change of earlyStoppingMetric that counts as an improvement, >= 0",
    (v: Double) => BiosParams.valid(new EarlyStopping(ValidationMetric.VAL_LOSS, 0, v)))

  setDefault(
    validationIndicatorCol -> "",
    validationFraction -> 0.0,
    earlyStoppingPatience -> 0,
    earlyStoppingMetric -> ValidationMetric.VAL_LOSS.label(),
    earlyStoppingMinDelta -> 0.0)

  def getValidationIndicatorCol: String = $(validationIndicatorCol)
  def getValidationFraction: Double = $(validationFraction)
  def getEarlyStoppingPatience: Int = $(earlyStoppingPatience)
  /** val_loss, val_accuracy or val_auc. */
  def getEarlyStoppingMetric: String = BiosParams.param(ValidationMetric.parse($(earlyStoppingMetric))).label()
  def getEarlyStoppingMinDelta: Double = $(earlyStoppingMinDelta)
  /** The early-stopping settings (patience 0: off). */
  def getEarlyStopping: EarlyStopping = BiosParams.param(new EarlyStopping(
    ValidationMetric.parse($(earlyStoppingMetric)), $(earlyStoppingPatience), $(earlyStoppingMinDelta)))
}

private[spark] object BiosParams {
  def lower(v: String): String = v.trim.toLowerCase(Locale.ROOT)

  /**
   * `parse`'s value; an engine setting error becomes the `IllegalArgumentException` MLlib raises
   * for a bad param, with the engine's message (the param, the value, what it must be) and cause.
   */
  def param[T](parse: => T): T =
    try parse catch {
      case e: InvalidSettingException => throw new IllegalArgumentException(e.getMessage, e)
    }

  /** A validator: true when `parse` succeeds; throws its explanation otherwise. */
  def valid(parse: => Any): Boolean = {
    param(parse)
    true
  }

  /** A validation fraction in [0, 1); the engine's kind of message otherwise. */
  def checkFraction(v: Double): Double =
    if (v >= 0 && v < 1) v
    else throw new InvalidSettingException("validationFraction", v,
      "must be in [0, 1): the share of rows held out for validation (0: none)")

  /** shuffle or direct, any case; the engine's kind of message otherwise. */
  def parseSharding(v: String): String = param(Option(v).map(lower) match {
    case Some(s @ ("shuffle" | "direct")) => s
    case _ => throw new InvalidSettingException("sharding", "\"" + v + "\"", "must be shuffle or direct")
  })
}
