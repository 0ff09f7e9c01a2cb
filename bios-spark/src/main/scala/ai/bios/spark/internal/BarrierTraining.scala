package ai.bios.spark.internal

import ai.bios.spark.WorkerSummary
import ai.bios.tf.BiosException
import ai.bios.tf.collective.{RingCollective, RingOptions}
import ai.bios.tf.exec.{EarlyStopping, EpochMetrics, ExecutionMode, StepListener, StepLoop, TrainingConfig,
  ValidationMetric}
import ai.bios.tf.model.{ComputeOptions, LossOptions, ModelSpec, OptimizerSpec, TrainableModel}
import org.apache.spark.{BarrierTaskContext, HashPartitioner, Partitioner}
import org.apache.spark.internal.Logging
import org.apache.spark.ml.bios.{MapOrderedShuffledRDD, SparkInternals}
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{DataFrame, Row}

import java.net.InetSocketAddress
import scala.jdk.CollectionConverters._

/**
 * The whole training as ONE barrier stage: one task per worker, each meeting its peers through one
 * `allGather`, joining the gradient ring and running the engine's step loop, which trains the first
 * epoch on the shard's rows as they stream in (into a per-task cache) and replays the cache after.
 * The barrier stage feeds a shuffle (a ShuffleMapStage), so when a task fails Spark retries the
 * whole stage instead of failing the job.
 */
private[spark] object BarrierTraining extends Logging {

  /** Everything a task needs, frozen on the driver. The ring's secret never appears in `toString`. */
  final case class Job(
      specJson: String,
      optimizer: OptimizerSpec,
      config: TrainingConfig,
      decoder: RowDecoder,
      featureSize: Int,
      labelWidth: Int,
      ring: RingOptions,
      ringSecret: RingSecret,
      rendezvousTimeout: java.time.Duration,
      checkpoints: Option[HadoopCheckpointStore],
      hooks: TrainingHooks,
      cacheMemoryBytes: Long,
      mapsAhead: Int,
      runId: String,
      validation: Option[BarrierTraining.ValidationRows] = None,
      earlyStopping: EarlyStopping = EarlyStopping.OFF,
      loss: LossOptions = LossOptions.NONE,
      transform: Option[TransformRunner] = None,
      cacheTransformed: Boolean = false,
      inputThreads: Option[Int] = None) {
    override def toString: String = s"Job(spec=$specJson, optimizer=$optimizer, config=$config, loss=$loss)"
  }

  /**
   * Where a task finds its validation rows: the boolean column at `index` (named `column` in errors,
   * `param` the estimator param that chose it) is true for them.
   */
  final case class ValidationRows(index: Int, column: String, param: String)

  /** What each task sends back; rank 0 carries the weights. `epochs` is the same on every worker. */
  final case class WorkerResult(
      rank: Int, weights: Array[Float], losses: Array[Double], summary: WorkerSummary,
      epochs: List[EpochMetrics] = Nil, bestEpoch: Int = -1, stoppedEarly: Boolean = false)

  /**
   * Shards the rows deterministically into `workers` partitions: each row is keyed by (input
   * partition, position) and dealt to a worker; the reduce side reads map outputs in map order, so
   * every worker gets the same rows in the same order on every attempt without sorting, and can
   * train on its first rows while the rest arrive. Rows are checked on the map side (null, size,
   * NaN, label range), so bad data fails the fit before training starts, naming its partition and row;
   * with an input transform (no features column) only the label and weight are checked here. Each
   * row keeps its key: it names the row in a transform's errors and seeds the transform's randomness.
   */
  def shard(df: DataFrame, workers: Int, decoder: RowDecoder, mapsAhead: Int): RDD[(Long, Row)] = {
    val keyed = df.rdd.mapPartitionsWithIndex { (p, rows) =>
      val check = decoder.in(s"input partition $p of the training data")
      val f = new Array[Float](decoder.featureSize)
      val l = new Array[Float](decoder.labelWidth)
      rows.zipWithIndex.map { case (row, i) =>
        if (check.hasFeatures) check.features(row, i, f, 0)
        check.label(row, i, l, 0)
        if (check.weighted) check.weight(row, i)
        (shardKey(p, i), row)
      }
    }
    new MapOrderedShuffledRDD[Long, Row](keyed, new ShardPartitioner(workers), mapsAhead)
  }

  /**
   * Trains on `df`. With `direct`, input partition i feeds worker i as is (`df` has exactly
   * `workers` partitions), so the upstream ETL runs lazily inside the training task, on its feeder
   * thread, while the first epoch trains; otherwise rows are dealt by [[shard]].
   */
  def run(df: DataFrame, job: Job, workers: Int, direct: Boolean = false): Seq[WorkerResult] = {
    val rows: RDD[(Long, Row)] = if (direct) {
      df.rdd.mapPartitionsWithIndex((p, it) => it.zipWithIndex.map { case (row, i) => (shardKey(p, i), row) },
        preservesPartitioning = true)
    } else shard(df, workers, job.decoder, job.mapsAhead).mapPartitions(inKeyOrder, preservesPartitioning = true)
    val where = if (direct) "input partition %d of the training data" else "worker %d's shard"
    FitBoard.started(job.runId, workers)
    val results = try {
      rows.barrier().mapPartitions { it => Iterator(trainRecorded(it, job, where)) }
        .map(r => (r.rank, r))
        .partitionBy(new HashPartitioner(1)) // the barrier stage becomes a retryable ShuffleMapStage
        .values
        .collect()
        .sortBy(_.rank).toSeq
    } catch {
      case e: Throwable =>
        FitBoard.ended(job.runId, Left(e))
        throw e
    }
    FitBoard.ended(job.runId, Right(results))
    results
  }

  /** The shard's rows, checking the order the determinism rests on: keys strictly increase. */
  private def inKeyOrder(rows: Iterator[(Long, Row)]): Iterator[(Long, Row)] = {
    var last = -1L
    rows.map { case keyed @ (key, _) =>
      if (key <= last) {
        throw new IllegalStateException(s"shard rows arrived out of order (key $key after $last): the " +
          "shuffle did not keep the map side's order, so training would not be reproducible")
      }
      last = key
      keyed
    }
  }

  /** [[train]], telling the hooks how the task ended. */
  private def trainRecorded(rows: Iterator[(Long, Row)], job: Job, where: String): WorkerResult = {
    val ctx = BarrierTaskContext.get()
    try {
      val result = train(rows, job, where, ctx)
      job.hooks.ended(ctx.partitionId(), ctx.stageAttemptNumber(), None)
      result
    } catch {
      case e: Throwable =>
        job.hooks.ended(ctx.partitionId(), ctx.stageAttemptNumber(), Some(e))
        throw e
    }
  }

  /**
   * The task's cache: decoded rows, or with an input transform the encoded input columns
   * ([[EncodedCache]]). Filled while the first epoch trains, on the feeder thread (EFFICIENT) or the
   * task's (SIMPLE).
   */
  private def cacheOf(rows: Iterator[(Long, Row)], job: Job, where: String, ctx: BarrierTaskContext): StreamedCache = {
    val decoder = job.decoder.in(where)
    val validationIndex = job.validation.map(_.index).getOrElse(-1)
    val validationColumn = job.validation.map(_.column).getOrElse("")
    val spillDir = () => SparkInternals.localTempDir()
    val adopt = () => SparkInternals.adoptTaskContext(ctx)
    job.transform match {
      case Some(runner) => new EncodedCache(rows, decoder, runner, job.labelWidth, job.cacheMemoryBytes, spillDir,
        adopt, validationIndex, validationColumn, where, job.cacheTransformed)
      case None => new PartitionCache(rows, decoder, job.featureSize, job.labelWidth, job.cacheMemoryBytes, spillDir,
        adopt, validationIndex, validationColumn, where)
    }
  }

  /**
   * The input threads a task's summary reports: its input threads in efficient mode with an input
   * transform; otherwise 1 (simple mode reads and transforms every record on the loop's thread).
   */
  private[spark] def reportedInputThreads(transform: Boolean, config: TrainingConfig): Int =
    if (transform && config.mode() == ExecutionMode.EFFICIENT) config.inputThreads() else 1

  /** Input threads for this task: the param's number, or for auto the task's CPUs less one for the loop (at least 1). */
  private[spark] def inputThreads(param: Option[Int], taskCpus: Int): Int = param.getOrElse(Math.max(1, taskCpus - 1))

  private def train(rows: Iterator[(Long, Row)], job: Job, where: String, ctx: BarrierTaskContext): WorkerResult = {
    val rank = ctx.partitionId()
    val attempt = ctx.stageAttemptNumber()
    val killed = KillFlag.of(ctx, s"training task rank $rank (stage attempt $attempt)")
    val gpu = Option(ctx.resources()).flatMap(_.get("gpu")).flatMap(_.addresses.headOption)
    val cache = cacheOf(rows, job, where.format(rank), ctx)
    val config = job.config.toBuilder.inputThreads(inputThreads(job.inputThreads, ctx.cpus())).build()
    val host = ctx.getTaskInfos()(rank).address.split(":").head
    val listener = try RingCollective.listen(host) catch {
      case e: Throwable =>
        cache.close()
        throw e
    }
    try {
      val me = listener.address()
      // Rank 0 picks the checkpoint to resume from (after a stage retry, or a rerun with the same
      // checkpointDir), so every worker resumes from the same one even if a newer one appears.
      val resumeStep = if (rank == 0) job.checkpoints.flatMap(s => Option(s.latest().orElse(null)))
        .map(_.nextStep()).getOrElse(0L) else 0L
      // The one rendezvous: every worker's ring address, and rank 0's resume step. Shard sizes are
      // not needed: the workers agree where the streamed first epoch ends while it trains.
      job.hooks.reached(TrainingHooks.Rendezvous, rank, attempt)
      val gathered = Rendezvous.gather(ctx, s"${me.getHostString} ${me.getPort} $resumeStep",
        job.rendezvousTimeout, rank)
      val parsed = gathered.map(_.split(" "))
      val resumeFrom = parsed(0)(2).toLong
      val peers = parsed.map(a => new InetSocketAddress(a(0), a(1).toInt)).toList
      val watched = if (job.earlyStopping.enabled()) job.earlyStopping.metric() else ValidationMetric.VAL_LOSS
      val progress = ExecutorPluginContext.get
        .map(new ProgressSender(_, 1000000000L, job.runId, rank, job.validation.map(_ => watched),
          gpu.getOrElse("")))
        .getOrElse(StepListener.NONE)
      val compute = new ComputeOptions(gpu.orNull, Math.max(1, ctx.cpus()), 1)
      job.hooks.reached(TrainingHooks.Connect, rank, attempt)
      val ring = RingCollective.connect(listener, rank, peers.asJava, job.ringSecret.options(job.ring), killed)
      try {
        val model = new TrainableModel(ModelSpec.fromJson(job.specJson), job.optimizer, compute, job.loss)
        try {
          val loop = new StepLoop(model, cache, config)
            .collective(ring)
            .threadPrefix(s"bios-rank$rank")
            .cancellation(killed)
            .listener(job.hooks.listener(rank, attempt, progress))
            .earlyStopping(job.earlyStopping)
          if (job.validation.isDefined) loop.validation(cache.validation)
          job.checkpoints.foreach(store => loop.checkpoints(store).writeCheckpoints(rank == 0).resumeFrom(resumeFrom))
          val report = try loop.run() catch {
            case e: Throwable =>
              // Tell the next worker why, so its error (which Spark may report instead) names the cause:
              // the Bios error inside (a bad record, say), not the feeder thread's wrapper around it.
              val why = Iterator.iterate(e)(_.getCause).takeWhile(_ != null)
                .collectFirst { case b: BiosException => b }.getOrElse(e)
              ring.abort(s"${why.getClass.getSimpleName}: ${why.getMessage}")
              throw e
          }
          job.hooks.reached(TrainingHooks.Trained, rank, attempt)
          WorkerResult(rank, if (rank == 0) model.exportWeights() else null, report.lossHistory(),
            WorkerSummary(rank, gpu, model.compute().toConfigProto.getGpuOptions.getVisibleDeviceList,
              cache.size, cache.size - cache.rowsInMemory, cache.rowsAtFirstRead, report)
              .copy(inputThreads = reportedInputThreads(job.transform.isDefined, config)),
            report.epochs().asScala.toList, report.bestEpoch(), report.stoppedEarly())
        } finally {
          model.close()
        }
      } finally {
        ring.close()
      }
    } finally {
      try listener.close() finally cache.close()
    }
  }

  /** The shuffle key of row `i` of input partition `p`; [[ShardPartitioner]] deals rows by it. */
  private[spark] def shardKey(p: Int, i: Long): Long = (p.toLong << 32) | i

  /**
   * The training rows each worker will hold: one pass over `df` that deals every row as [[shard]]
   * does (with `direct`, partition i to worker i) and leaves out the validation rows.
   */
  def trainingShardSizes(df: DataFrame, workers: Int, direct: Boolean, validation: Option[ValidationRows]): Array[Long] = {
    val partitioner = new ShardPartitioner(workers)
    df.rdd.mapPartitionsWithIndex { (p, rows) =>
      val sizes = new Array[Long](workers)
      var i = 0L
      rows.foreach { row =>
        val held = validation.exists(v => PartitionCache.isValidation(row, v.index, v.column, i, s"input partition $p"))
        if (!held) sizes(if (direct) p else partitioner.getPartition(shardKey(p, i))) += 1
        i += 1
      }
      Iterator(sizes)
    }.treeReduce((a, b) => Array.tabulate(workers)(k => a(k) + b(k)))
  }

  /**
   * Deals the rows of every input partition round-robin over the workers, starting at a different
   * worker per partition: shards differ by at most one row per input partition.
   */
  private[internal] final class ShardPartitioner(workers: Int) extends Partitioner {
    override def numPartitions: Int = workers
    override def getPartition(key: Any): Int = {
      val k = key.asInstanceOf[Long]
      Math.floorMod((k >>> 32) + (k & 0xFFFFFFFFL), workers.toLong).toInt
    }
    override def equals(other: Any): Boolean = other match {
      case s: ShardPartitioner => s.numPartitions == workers
      case _ => false
    }
    override def hashCode: Int = workers
  }
}
