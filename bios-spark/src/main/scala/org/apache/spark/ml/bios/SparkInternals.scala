package org.apache.spark.ml.bios

import org.apache.spark.SparkContext
import org.apache.spark.ml.param.Params
import org.apache.spark.ml.util.{DefaultParamsReader, DefaultParamsWriter}
import org.json4s.JsonAST.JObject

/**
 * The few Spark internals Bios needs, in one place (they are `private[spark]`/`private[ml]`):
 * task slots for the pre-launch check, and MLlib's params metadata format for save/load.
 */
object SparkInternals {

  /** Tasks of the default resource profile (CPUs, and GPUs when asked for) that can run at once. */
  def maxConcurrentTasks(sc: SparkContext): Int =
    sc.maxNumConcurrentTasks(sc.resourceProfileManager.defaultResourceProfile)

  /**
   * Spark's own authentication secret (`spark.authenticate`), as this JVM's Spark knows it (the
   * driver, or an executor, which receives it from its cluster manager), or None when
   * authentication is off.
   */
  def authenticationSecret(): Option[Array[Byte]] =
    Option(org.apache.spark.SparkEnv.get).map(_.securityManager).filter(_.isAuthenticationEnabled())
      .flatMap(sm => Option(sm.getSecretKey())).map(_.getBytes(java.nio.charset.StandardCharsets.UTF_8))

  /** A directory for task scratch files: one of the executor's local dirs (spark.local.dir). */
  def localTempDir(): java.io.File =
    Option(org.apache.spark.SparkEnv.get).map(_.blockManager.diskBlockManager.localDirs.head)
      .getOrElse(new java.io.File(System.getProperty("java.io.tmpdir")))

  /**
   * Makes `ctx` the current task context of this thread: Bios reads the task's input iterator on
   * its feeder thread, and some of Spark's iterators look the context up from the thread.
   */
  def adoptTaskContext(ctx: org.apache.spark.TaskContext): Unit =
    if (org.apache.spark.TaskContext.get() == null) org.apache.spark.TaskContext.setTaskContext(ctx)

  def saveMetadata(instance: Params, path: String, sc: SparkContext, extra: JObject): Unit =
    DefaultParamsWriter.saveMetadata(instance, path, sc, Some(extra), None)

  /**
   * Loads params metadata written by [[saveMetadata]]: the saved uid, and a function that sets the
   * saved params on a new instance.
   */
  def loadMetadata(path: String, sc: SparkContext, expectedClass: String): (String, Params => Unit) = {
    val metadata = DefaultParamsReader.loadMetadata(path, sc, expectedClass)
    (metadata.uid, (p: Params) => metadata.getAndSetParams(p))
  }
}
