package ai.bios.spark.internal

import ai.bios.tf.exec.{StepListener, StepMetrics}
import com.codahale.metrics.{Gauge, MetricRegistry}
import org.apache.spark.SparkContext
import org.apache.spark.api.plugin.{DriverPlugin, ExecutorPlugin, PluginContext}
import org.apache.spark.internal.Logging

import java.util.concurrent.{Executors, ScheduledExecutorService, TimeUnit}
import java.util.concurrent.atomic.AtomicReference
import java.util.{Map => JMap}
import scala.jdk.CollectionConverters._

/** A training task's progress, sent from rank 0 to the driver. */
private[spark] final case class Progress(
    epoch: Int, step: Long, totalSteps: Long, loss: Double, samplesPerSecond: Double,
    inputWaitFraction: Double, deviceIdleFraction: Double, elapsedNanos: Long) extends Serializable

/** An executor's TensorFlow, reported once when it loads. */
private[spark] final case class ExecutorReady(executorId: String, tensorflowVersion: String) extends Serializable

/** Where a training task finds its executor's plugin context (set when the executor plugin starts). */
private[spark] object ExecutorPluginContext {
  private val current = new AtomicReference[PluginContext]()
  def set(ctx: PluginContext): Unit = current.set(ctx)
  def clear(): Unit = current.set(null)
  def get: Option[PluginContext] = Option(current.get())
}

/**
 * Sends rank 0's progress to the driver at most every `intervalNanos` (and on the last step).
 * `PluginContext.send` is asynchronous; this never blocks the step.
 */
private[spark] final class ProgressSender(ctx: PluginContext, intervalNanos: Long) extends StepListener {
  private var last = 0L
  private var sent = false

  override def onStep(m: StepMetrics): Unit = {
    val lastStep = m.step + 1 == m.totalSteps
    if (lastStep || !sent || m.elapsedNanos - last >= intervalNanos) {
      sent = true
      last = m.elapsedNanos
      ctx.send(Progress(m.epoch, m.step + 1, m.totalSteps, m.loss, m.samplesPerSecond, m.inputWaitFraction,
        m.deviceIdleFraction, m.elapsedNanos))
    }
  }
}

private[spark] final class BiosExecutorPlugin extends ExecutorPlugin with Logging {
  override def init(ctx: PluginContext, extraConf: JMap[String, String]): Unit = {
    val version = org.tensorflow.TensorFlow.version() // loads the native library now, not at the first step
    logInfo(s"TensorFlow $version loaded on executor ${ctx.executorID()}")
    ExecutorPluginContext.set(ctx)
    ctx.send(ExecutorReady(ctx.executorID(), version))
  }

  override def shutdown(): Unit = ExecutorPluginContext.clear()
}

/** What the driver plugin has heard, for the driver's code (one plugin per driver JVM). */
private[spark] object DriverProgress {
  val latest = new AtomicReference[Progress]()
  val received = new java.util.concurrent.atomic.AtomicLong()
  val executors = new java.util.concurrent.ConcurrentHashMap[String, String]()
}

private[spark] final class BiosDriverPlugin extends DriverPlugin with Logging {
  private val latest = DriverProgress.latest
  @volatile private var printed: Progress = _
  private var printer: ScheduledExecutorService = _

  override def init(sc: SparkContext, ctx: PluginContext): JMap[String, String] = {
    val interval = sc.getConf.getTimeAsMs("spark.bios.progressInterval", "10s")
    printer = Executors.newSingleThreadScheduledExecutor { r =>
      val t = new Thread(r, "bios-progress")
      t.setDaemon(true)
      t
    }
    printer.scheduleAtFixedRate(() => printLine(), interval, interval, TimeUnit.MILLISECONDS)
    Map.empty[String, String].asJava
  }

  override def registerMetrics(appId: String, ctx: PluginContext): Unit = {
    val registry: MetricRegistry = ctx.metricRegistry()
    def gauge(name: String)(f: Progress => Double): Unit =
      registry.register(MetricRegistry.name("bios", name), new Gauge[Double] {
        override def getValue: Double = Option(latest.get()).map(f).getOrElse(0.0)
      })
    gauge("loss")(_.loss)
    gauge("step")(_.step.toDouble)
    gauge("totalSteps")(_.totalSteps.toDouble)
    gauge("samplesPerSecond")(_.samplesPerSecond)
    gauge("inputWaitFraction")(_.inputWaitFraction)
    gauge("deviceIdleFraction")(_.deviceIdleFraction)
  }

  override def receive(message: Any): AnyRef = {
    message match {
      case p: Progress =>
        latest.set(p)
        DriverProgress.received.incrementAndGet()
        if (p.step == p.totalSteps) printLine()
      case ExecutorReady(id, version) =>
        DriverProgress.executors.put(id, version)
        logInfo(s"executor $id: TensorFlow $version")
      case other => logWarning(s"unexpected message $other")
    }
    null
  }

  private def printLine(): Unit = {
    val p = latest.get()
    if (p != null && (p ne printed)) {
      printed = p
      val rate = p.step / math.max(1e-9, p.elapsedNanos / 1e9)
      // While the first epoch streams in its length (and so the run's) is not known yet.
      val (total, eta) = if (p.totalSteps < 0) ("?", "after epoch 1")
        else (p.totalSteps.toString, f"${(p.totalSteps - p.step) / math.max(rate, 1e-9)}%.0fs")
      val line = f"bios: epoch ${p.epoch + 1} step ${p.step}/$total loss ${p.loss}%.4f " +
        f"${p.samplesPerSecond}%.0f samples/s input-wait ${100 * p.inputWaitFraction}%.1f%% " +
        f"device-idle ${100 * p.deviceIdleFraction}%.1f%% ETA $eta"
      System.out.println(line) // notebooks and spark-submit consoles show stdout
      logDebug(line)
    }
  }

  override def shutdown(): Unit = if (printer != null) printer.shutdownNow()
}
