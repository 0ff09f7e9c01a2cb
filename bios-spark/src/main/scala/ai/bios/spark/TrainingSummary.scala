package ai.bios.spark

import ai.bios.tf.exec.{EpochMetrics, Stage, TrainingReport}
import org.apache.spark.sql.{DataFrame, Row, SparkSession}
import org.apache.spark.sql.types.{DoubleType, IntegerType, LongType, StructField, StructType}

import scala.jdk.CollectionConverters._

/**
 * What one worker's training did and how busy it kept its device.
 *
 * @param rank the worker
 * @param gpu the GPU address Spark assigned to its task, if any
 * @param pinnedDevices the device list its TensorFlow session was configured to see
 *     (`gpu_options.visible_device_list`; empty: CPU only)
 * @param records rows in its shard
 * @param spilledRecords rows of its shard kept on local disk (past `spark.bios.cacheMemory`)
 * @param recordsBeforeTraining rows of its shard that had arrived when it built its first batch:
 *     the first epoch trains while the rest stream in (about `shuffleWindow` plus one batch, or
 *     the whole shard when resuming after the first epoch)
 * @param samplesPerSecond samples per second across all workers, as this worker saw them
 * @param stageMillis per-step cost of each stage, milliseconds
 * @param deviceIdleFraction share of wall time its device ran no compute or apply
 * @param inputWaitFraction share of wall time its loop waited for input
 * @param prefetchDepth queue depth used
 * @param stepMedianMillis median time of one iteration of its training loop
 * @param ceiling sum of its stage costs over the longest (the most overlap can win)
 * @param resumedFrom the step it started at: 0, or the checkpoint it resumed from
 * @param inputThreads threads its input transform ran on (`inputThreads`, auto resolved, in
 *     efficient mode; 1 in simple mode, which is serial, and without a transform)
 */
case class WorkerSummary(
    rank: Int,
    gpu: Option[String],
    pinnedDevices: String,
    records: Int,
    spilledRecords: Int,
    recordsBeforeTraining: Int,
    samplesPerSecond: Double,
    stageMillis: Map[String, Double],
    deviceIdleFraction: Double,
    inputWaitFraction: Double,
    prefetchDepth: Int,
    stepMedianMillis: Double,
    ceiling: Double,
    resumedFrom: Long,
    inputThreads: Int = 1) {

  /** For Java: the per-step cost of each stage, milliseconds. */
  def getStageMillis: java.util.Map[Stage, java.lang.Double] = {
    val m = new java.util.EnumMap[Stage, java.lang.Double](classOf[Stage])
    Stage.values().foreach(s => m.put(s, java.lang.Double.valueOf(stageMillis.getOrElse(WorkerSummary.key(s), 0.0))))
    m
  }

  /** For Java: the GPU address Spark assigned, if any. */
  def getGpu: java.util.Optional[String] = java.util.Optional.ofNullable(gpu.orNull)
}

/**
 * The result of one fit: the loss history (global mean loss of every step, the same on every
 * worker), the per-epoch history (mean training loss and validation metrics), and each worker's
 * summary.
 *
 * @param history every finished epoch, in order ([[EpochMetrics]]: epoch, trainLoss, records,
 *     valLoss, valAccuracy, valAuc, validationRecords, learningRate, seconds; NaN where there is no
 *     such number, e.g. validation metrics without validation rows)
 * @param bestEpoch with early stopping, the epoch whose weights the model holds; -1 without
 * @param stoppedEarly whether early stopping decided to stop
 * @param tensorBoardRun the fit's TensorBoard run directory, when `tensorBoardDir` is set
 * @param reportFile the fit's HTML training report, when `reportDir` is set
 */
case class TrainingSummary(
    lossHistory: Array[Double],
    steps: Long,
    trainSeconds: Double,
    mode: String,
    workers: Seq[WorkerSummary],
    history: Seq[EpochMetrics] = Nil,
    bestEpoch: Int = -1,
    stoppedEarly: Boolean = false,
    tensorBoardRun: Option[String] = None,
    reportFile: Option[String] = None) {

  /** The last step's global mean loss (see [[history]] for each epoch's mean). */
  def finalLoss: Double = if (lossHistory.isEmpty) Double.NaN else lossHistory.last

  /** Epochs finished. */
  def epochsRun: Int = history.size

  /** For Java: the per-epoch history. */
  def getHistory: java.util.List[EpochMetrics] = history.asJava

  /**
   * The per-epoch history as a DataFrame, one row per epoch: epoch, train_loss, records, val_loss,
   * val_accuracy, val_auc, validation_records, learning_rate, seconds.
   */
  def historyDataFrame(spark: SparkSession): DataFrame = {
    val schema = StructType(Seq(StructField("epoch", IntegerType, nullable = false)) ++
      TrainingSummary.EpochFields.tail.map { case (name, _) =>
        StructField(name, if (name.endsWith("records")) LongType else DoubleType, nullable = false)
      })
    val rows = history.map(e => Row(e.epoch, e.trainLoss, e.records, e.valLoss, e.valAccuracy, e.valAuc,
      e.validationRecords, e.learningRate, e.seconds))
    spark.createDataFrame(rows.asJava, schema)
  }

  /** For Java: the workers' summaries, by rank. */
  def getWorkers: java.util.List[WorkerSummary] = workers.asJava

  /** For Java: the TensorBoard run directory of the fit, if written. */
  def getTensorBoardRun: java.util.Optional[String] = java.util.Optional.ofNullable(tensorBoardRun.orNull)

  /** For Java: the HTML training report of the fit, if written. */
  def getReportFile: java.util.Optional[String] = java.util.Optional.ofNullable(reportFile.orNull)

  /** Samples per second over all workers (rank 0's view). */
  def samplesPerSecond: Double = workers.headOption.map(_.samplesPerSecond).getOrElse(0.0)

  /**
   * The summary as one line of JSON, for tools: mode, steps, train_seconds, final_loss,
   * samples_per_second, loss_history (every step), epochs_run, best_epoch, stopped_early, history
   * (every epoch: the fields of [[historyDataFrame]]) and workers (each worker's fields, stage costs
   * in stage_ms). Names are snake_case; a value that is not a finite number is null.
   */
  def toJson: String = {
    import org.json4s._
    def num(d: Double): JValue = if (d.isNaN || d.isInfinite) JNull else JDouble(d)
    val ws = workers.map { w =>
      JObject(
        "rank" -> JInt(w.rank),
        "gpu" -> w.gpu.map(JString(_)).getOrElse(JNull),
        "pinned_devices" -> JString(w.pinnedDevices),
        "records" -> JInt(w.records),
        "spilled_records" -> JInt(w.spilledRecords),
        "records_before_training" -> JInt(w.recordsBeforeTraining),
        "samples_per_second" -> num(w.samplesPerSecond),
        "stage_ms" -> JObject(Stage.values().toList.map { st =>
          WorkerSummary.key(st) -> num(w.stageMillis.getOrElse(WorkerSummary.key(st), 0.0))
        }),
        "device_idle_fraction" -> num(w.deviceIdleFraction),
        "input_wait_fraction" -> num(w.inputWaitFraction),
        "prefetch_depth" -> JInt(w.prefetchDepth),
        "step_median_ms" -> num(w.stepMedianMillis),
        "ceiling" -> num(w.ceiling),
        "resumed_from" -> JInt(w.resumedFrom),
        "input_threads" -> JInt(w.inputThreads))
    }
    org.json4s.jackson.JsonMethods.compact(org.json4s.jackson.JsonMethods.render(JObject(
      "mode" -> JString(mode),
      "steps" -> JInt(steps),
      "train_seconds" -> num(trainSeconds),
      "final_loss" -> num(finalLoss),
      "samples_per_second" -> num(samplesPerSecond),
      "loss_history" -> JArray(lossHistory.toList.map(num)),
      "epochs_run" -> JInt(epochsRun),
      "best_epoch" -> JInt(bestEpoch),
      "stopped_early" -> JBool(stoppedEarly),
      "history" -> JArray(history.toList.map { e =>
        JObject(TrainingSummary.EpochFields.map { case (name, get) =>
          name -> (get(e) match {
            case d: Double => num(d)
            case n: Number => JInt(BigInt(n.longValue()))
          })
        }.toList)
      }),
      "workers" -> JArray(ws.toList))))
  }

  override def toString: String =
    f"TrainingSummary(mode=$mode, steps=$steps, epochs=$epochsRun, final loss=$finalLoss%.5f, " +
      history.lastOption.filter(!_.valLoss.isNaN).map(e => f"val_loss=${e.valLoss}%.5f, ").getOrElse("") +
      (if (stoppedEarly) s"stopped early (best epoch $bestEpoch), " else "") +
      f"samples/s=$samplesPerSecond%.1f, train=${trainSeconds}%.1fs, workers=${workers.size})"
}

object TrainingSummary {
  /** The per-epoch fields, by their snake_case names (JSON and DataFrame), in order. */
  private[spark] val EpochFields: Seq[(String, EpochMetrics => Any)] = Seq(
    "epoch" -> (_.epoch),
    "train_loss" -> (_.trainLoss),
    "records" -> (_.records),
    "val_loss" -> (_.valLoss),
    "val_accuracy" -> (_.valAccuracy),
    "val_auc" -> (_.valAuc),
    "validation_records" -> (_.validationRecords),
    "learning_rate" -> (_.learningRate),
    "seconds" -> (_.seconds))
}

private[spark] object WorkerSummary {
  /** The name of a stage in [[WorkerSummary.stageMillis]]. */
  def key(s: Stage): String = s.name().toLowerCase(java.util.Locale.ROOT)

  def apply(rank: Int, gpu: Option[String], pinned: String, records: Int, spilled: Int, beforeTraining: Int,
      r: TrainingReport): WorkerSummary =
    WorkerSummary(rank, gpu, pinned, records, spilled, beforeTraining, r.samplesPerSecond(),
      Stage.values().map(s => key(s) -> r.stageMillis(s)).toMap,
      r.deviceIdleFraction(), r.inputWaitFraction(), r.prefetchDepth(), r.stepMedianNanos() / 1e6, r.ceiling(), r.firstStep())
}
