package ai.bios.spark.internal

import org.apache.spark.api.plugin.{ExecutorPlugin, PluginContext}
import org.apache.spark.internal.Logging

import java.util.concurrent.atomic.AtomicReference
import java.util.{Map => JMap}

/**
 * Where a training task finds its executor's plugin context, set when the executor plugin starts.
 * Spark gives a task no handle on its executor's plugins, so the executor plugin publishes its
 * context here, once per executor JVM; a task without it (no plugin) trains without live progress.
 */
private[spark] object ExecutorPluginContext {
  private val current = new AtomicReference[PluginContext]()
  def set(ctx: PluginContext): Unit = current.set(ctx)
  def clear(): Unit = current.set(null)
  def get: Option[PluginContext] = Option(current.get())
}

/**
 * The executor side of [[ai.bios.spark.BiosPlugin]]: loads TensorFlow's native library when the
 * executor starts (not at the first step), reports its version once, and publishes the plugin
 * context for the training tasks' progress.
 */
private[spark] final class BiosExecutorPlugin extends ExecutorPlugin with Logging {
  override def init(ctx: PluginContext, extraConf: JMap[String, String]): Unit = {
    val version = org.tensorflow.TensorFlow.version() // loads the native library now, not at the first step
    logInfo(s"TensorFlow $version loaded on executor ${ctx.executorID()}")
    ExecutorPluginContext.set(ctx)
    ctx.send(ExecutorReady(ctx.executorID(), version))
  }

  override def shutdown(): Unit = ExecutorPluginContext.clear()
}
