package ai.bios.spark.conf

import ai.bios.tf.collective.RingOptions
import ai.bios.tf.exec.TrainingConfig
import ConfRegistry.{bytesText, durationText}

/**
 * Every `spark.bios.*` key, declared once with its type, default and doc. Set them like any Spark
 * setting (`--conf`, `spark-defaults.conf`, the `SparkSession` builder); the keys a fit or
 * transform reads may also be set per session (`spark.conf.set`). `docs/configuration.md` is
 * generated from this list (see [[BiosConf.markdown]]; a test fails when it is stale).
 */
object BiosConf {
  private val registry = new ConfRegistry

  // ---- driver --------------------------------------------------------------------------------

  val ProgressInterval = registry.duration("spark.bios.progressInterval", "10s",
    "How often the driver prints the training progress line (with `spark.plugins=ai.bios.spark.BiosPlugin`).",
    bareUnit = java.util.concurrent.TimeUnit.MILLISECONDS)

  val ExecutorWait = registry.duration("spark.bios.executorWait", "30s",
    "Before a fit on a cluster, how long to wait for executors to register when there are fewer task slots " +
      "(or GPUs) than `numWorkers`; then the fit fails naming the numbers. Not used in local mode.")

  // ---- training tasks ------------------------------------------------------------------------

  val RendezvousTimeout = registry.duration("spark.bios.rendezvousTimeout", "10min",
    "Longest a training task waits at the rendezvous (Spark's barrier allGather) for the other workers to " +
      "arrive; then the task fails naming this key and Spark retries the stage. Bounds the rendezvous " +
      "whatever spark.barrier.sync.timeout is.")

  val CollectiveTimeout = registry.duration("spark.bios.collectiveTimeout", durationText(RingOptions.DEFAULT_TIMEOUT),
    "Longest wait for a peer in the all-reduce (connecting or exchanging) before the task fails with the " +
      "peer's rank.")

  val RingAuthTimeout = registry.duration("spark.bios.ring.authTimeout", durationText(RingOptions.DEFAULT_AUTH_TIMEOUT),
    "Longest wait for a connecting peer to prove the fit's secret; a silent client cannot hold a worker's " +
      "listener longer than this.")

  val RingChunkSize = registry.bytes("spark.bios.ring.chunkSize", bytesText(4L * RingOptions.DEFAULT_CHUNK_FLOATS),
    "Gradient bytes the all-reduce sends per message; larger chunks cost fewer round trips, smaller ones " +
      "overlap sending and summing sooner.", min = 4, max = 4L * RingOptions.MAX_CHUNK_FLOATS)

  val InputTimeout = registry.duration("spark.bios.inputTimeout", durationText(TrainingConfig.DEFAULT_INPUT_TIMEOUT),
    "Longest a training task's threads wait for each other (the loop for a batch, a report or a checkpoint " +
      "hand-off) before the task fails naming the stuck stage.")

  val PrefetchMemory = registry.bytes("spark.bios.prefetchMemory", bytesText(TrainingConfig.DEFAULT_PREFETCH_MEMORY_BYTES),
    "With `prefetchDepth=auto`: the most memory the batches queued ahead may hold per training task.")

  val CacheMemory = registry.bytes("spark.bios.cacheMemory", "1g",
    "Per training task: rows kept in memory as floats; the rest spill to the executor's local disk (read " +
      "back while the first epoch streams, memory-mapped after).")

  val ShuffleMapsAhead = registry.int("spark.bios.shuffle.mapsAhead", 2,
    "Map outputs a training task fetches ahead of the one it reads while its shard streams in " +
      "(sharding=shuffle).", min = 1)

  val KeepCheckpoints = registry.int("spark.bios.keepCheckpoints", 3,
    "Checkpoints kept in `checkpointDir`; older ones are deleted once a newer one is complete.", min = 1)

  // ---- inference -----------------------------------------------------------------------------

  val InferenceBatchSize = registry.int("spark.bios.inference.batchSize", 1024,
    "Rows per batch when `BiosModel.transform` predicts.", min = 1)

  val InferencePrefetchDepth = registry.int("spark.bios.inference.prefetchDepth", 2,
    "Batches `BiosModel.transform` prepares ahead of the one the model predicts.", min = 1)

  // ---- Bios's own tests ----------------------------------------------------------------------

  val TrainingHooks = registry.string("spark.bios.internal.trainingHooks", "",
    "Class name of a `TrainingHooks` implementation the training tasks load (fault injection in Bios's own " +
      "tests); honoured only when Spark runs its tests (`spark.testing` or `SPARK_TESTING`).", internal = true)

  /** Every key, in declaration order. */
  def entries: Seq[ConfEntry[_]] = registry.entries

  /** The configuration reference (`docs/configuration.md`): every key that is not internal. */
  def markdown: String = {
    val rows = entries.filterNot(_.internal).map { e =>
      s"| `${e.key}` | `${e.defaultText}` | ${e.typeName} | ${e.doc} |"
    }
    (Seq(
      "# Configuration",
      "",
      "<!-- Generated from ai.bios.spark.conf.BiosConf: edit the doc there, then copy",
      "     bios-spark/target/configuration.md here (ConfigurationDocSuite writes it and fails while this file differs). -->",
      "",
      "Set these like any Spark setting: `--conf key=value` on `spark-submit`, a line in the file given",
      "to `--properties-file` (see `conf/bios-defaults.conf`), or the `SparkSession` builder. Keys a fit or",
      "a transform reads (all but `spark.bios.progressInterval`) may also be set for one session with",
      "`spark.conf.set(key, value)`. A value that does not parse fails the fit naming the key.",
      "",
      "To turn on live progress, metrics and TensorFlow's loading at executor start, add",
      "`spark.plugins=ai.bios.spark.BiosPlugin`. Training settings (batch size, epochs, mode,",
      "prefetch depth, ...) are params of `BiosEstimator`, not Spark settings.",
      "",
      "| key | default | value | meaning |",
      "| --- | --- | --- | --- |") ++ rows).mkString("", "\n", "\n")
  }
}
