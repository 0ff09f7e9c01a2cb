package ai.bios.spark

import ai.bios.tf.InvalidSettingException
import ai.bios.tf.exec.{EarlyStopping, ExecutionMode, PrefetchDepth, TrainingConfig, ValidationMetric}
import ai.bios.tf.model.{LearningRateSchedule, LossOptions, ModelSpec, OptimizerSpec}
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
  final val optimizer = new Param[String](this, "optimizer",
    "sgd, momentum (0.9), adam, rmsprop (rho 0.9), adagrad (initial accumulator 0.1) or adamw (adam with " +
      "decoupled weightDecay)",
    (v: String) => BiosParams.valid(OptimizerSpec.parse(v, 1.0)))
  final val learningRate = new DoubleParam(this, "learningRate",
    "optimizer step size, > 0; learningRateSchedule and warmupSteps scale it step by step",
    ParamValidators.gt(0.0))
  final val weightDecay = new DoubleParam(this, "weightDecay",
    "adamw only: decoupled weight decay, each step every kernel (not bias) shrinks by learningRate * " +
      "weightDecay * w beside the Adam update, >= 0",
    (v: Double) => BiosParams.valid(OptimizerSpec.adamW(Double.MinPositiveValue, v)))
  final val l2 = new DoubleParam(this, "l2",
    "coupled L2 penalty: l2 * w is added to the mean gradient of every kernel (not bias), >= 0 (0: off)",
    (v: Double) => BiosParams.valid(OptimizerSpec.sgd(1.0).withL2(v)))
  final val clipNorm = new DoubleParam(this, "clipNorm",
    "clip the mean gradient (after l2) to this global norm over all weights: scaled by min(1, clipNorm / " +
      "norm), >= 0 (0: off)",
    (v: Double) => BiosParams.valid(OptimizerSpec.sgd(1.0).withClipNorm(v)))
  final val learningRateSchedule = new Param[String](this, "learningRateSchedule",
    "learning rate over the steps, after warmupSteps: constant; cosine[:TOTAL[:FLOOR]] (cosine decay to " +
      "FLOOR x learningRate at step TOTAL; TOTAL auto or 0: the whole run, counted from the data, FLOOR " +
      "default 0); step:EVERY:FACTOR (times FACTOR every EVERY steps); exponential:EVERY:RATE (smoothly, " +
      "times RATE per EVERY steps)",
    (v: String) => BiosParams.valid(LearningRateSchedule.parse(v, 0)))
  final val warmupSteps = new LongParam(this, "warmupSteps",
    "steps of linear learning-rate warm-up from 0 (step 0) to learningRate (step warmupSteps), >= 0",
    (v: Long) => BiosParams.valid(LearningRateSchedule.constant().withWarmup(v)))
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

  // --- Outputs for people: TensorBoard events and the HTML training report ---
  final val tensorBoardDir = new Param[String](this, "tensorBoardDir",
    "directory on any Hadoop file system (file:, hdfs:, s3a:, ...) for TensorBoard event files, one run " +
      "directory per fit named <UTC time>-<uid>-<fit id>: loss, learning rate, samples/s, input-wait and " +
      "device-idle fractions per step, per-epoch metrics (empty: off)")
  final val reportDir = new Param[String](this, "reportDir",
    "directory on any Hadoop file system for a self-contained HTML training report per fit, " +
      "<UTC time>-<uid>-<fit id>.html: loss curve, workers, stage costs, settings (empty: off)")
  setDefault(tensorBoardDir -> "", reportDir -> "")
  def getTensorBoardDir: String = $(tensorBoardDir)
  def getReportDir: String = $(reportDir)
  // --- end of outputs for people ---

  setDefault(
    featuresCol -> "features",
    labelCol -> "label",
    predictionCol -> "prediction",
    probabilityCol -> "probability",
    optimizer -> "adam",
    learningRate -> 0.001,
    weightDecay -> OptimizerSpec.DEFAULT_WEIGHT_DECAY,
    l2 -> 0.0,
    clipNorm -> 0.0,
    learningRateSchedule -> LearningRateSchedule.constant().spec(),
    warmupSteps -> 0L,
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
  /**
   * The optimizer with every setting: learning rate and schedule, weight decay (adamw; set on
   * another optimizer it fails naming weightDecay), l2 and clipNorm. A cosine schedule left at
   * auto has total steps 0 here; `fit` fills them in from the data.
   */
  def getOptimizerSpec: OptimizerSpec = BiosParams.param {
    val base = OptimizerSpec.parse($(optimizer), $(learningRate))
    val decayed = if (base.kind() == OptimizerSpec.Kind.ADAMW || isSet(weightDecay)) base.withWeightDecay($(weightDecay))
      else base
    decayed.withL2($(l2)).withClipNorm($(clipNorm)).withSchedule(getLearningRateSchedule)
  }
  def getLearningRate: Double = $(learningRate)
  def getWeightDecay: Double = $(weightDecay)
  def getL2: Double = $(l2)
  def getClipNorm: Double = $(clipNorm)
  /** The schedule with its warm-up, typed (the short form is in the param). */
  def getLearningRateSchedule: LearningRateSchedule =
    BiosParams.param(LearningRateSchedule.parse($(learningRateSchedule), $(warmupSteps)))
  def getWarmupSteps: Long = $(warmupSteps)
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

  // ---- Losses and weights (one block; defaults set here) ----

  final val weightCol = new Param[String](this, "weightCol",
    "numeric column of sample weights (finite, >= 0): each row's loss is multiplied by its weight and every step " +
      "divides by the weight sum, so weight 2 counts a row twice and 0 ignores it (empty: every row weighs 1)")
  final val classWeights = new Param[String](this, "classWeights",
    "a loss weight per class, comma separated, multiplying the sample weight: one per output for softmax " +
      "(\"1.0,3.0\"), \"negative,positive\" for a 1-output sigmoid (empty: none)",
    (v: String) => BiosParams.valid(new LossOptions(false, LossOptions.parseClassWeights(v), 0)))
  final val labelSmoothing = new DoubleParam(this, "labelSmoothing",
    "label smoothing e in [0, 1): softmax trains on (1 - e) * onehot + e / classes, sigmoid on y * (1 - e) + " +
      "e / 2 (0: off)",
    (v: Double) => BiosParams.valid(new LossOptions(false, null, v)))

  setDefault(
    weightCol -> "",
    classWeights -> "",
    labelSmoothing -> 0.0)

  def getWeightCol: String = $(weightCol)
  def getClassWeights: String = $(classWeights)
  def getLabelSmoothing: Double = $(labelSmoothing)
  /** The loss settings: sample weights (a weightCol), class weights and label smoothing, typed. */
  def getLossOptions: LossOptions = BiosParams.param(
    new LossOptions($(weightCol).nonEmpty, LossOptions.parseClassWeights($(classWeights)), $(labelSmoothing)))

  // ---- Input transforms (one block; defaults set here) ----

  final val inputThreads = new Param[String](this, "inputThreads",
    "threads per training task that run the input transform (setTransform) in efficient mode: auto (the " +
      "task's CPUs, spark.task.cpus, less one for the training loop; at least 1) or a whole number >= 1; any " +
      "number trains bitwise the same weights",
    (v: String) => BiosParams.valid(BiosParams.parseInputThreads(v)))
  final val cacheTransformed = new BooleanParam(this, "cacheTransformed",
    "with an input transform: false keeps each row's input columns (encoded) in the task's cache and runs the " +
      "transform every epoch (augmentation differs per epoch); true keeps the transformed features instead " +
      "(needs a deterministic transform)")

  setDefault(inputThreads -> "auto", cacheTransformed -> false)

  /** auto or a whole number >= 1. */
  def getInputThreads: String = BiosParams.parseInputThreads($(inputThreads)).map(_.toString).getOrElse("auto")
  def getCacheTransformed: Boolean = $(cacheTransformed)
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

  /** inputThreads: None for auto (any case), or a whole number >= 1; the engine's kind of message otherwise. */
  def parseInputThreads(v: String): Option[Int] = param {
    val s = Option(v).map(lower).getOrElse("")
    if (s == "auto") None
    else s.toIntOption.filter(_ >= 1).map(Some(_)).getOrElse(throw new InvalidSettingException("inputThreads",
      "\"" + v + "\"", "must be auto (the task's CPUs less one) or a whole number >= 1"))
  }

  /** shuffle or direct, any case; the engine's kind of message otherwise. */
  def parseSharding(v: String): String = param(Option(v).map(lower) match {
    case Some(s @ ("shuffle" | "direct")) => s
    case _ => throw new InvalidSettingException("sharding", "\"" + v + "\"", "must be shuffle or direct")
  })
}
