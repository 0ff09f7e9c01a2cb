package ai.bios.spark.internal

import ai.bios.spark.conf.BiosConf
import com.codahale.metrics.{Gauge, MetricRegistry}
import org.apache.spark.SparkContext
import org.apache.spark.api.plugin.{DriverPlugin, PluginContext}
import org.apache.spark.internal.Logging

import java.util.concurrent.{Executors, ScheduledExecutorService, TimeUnit}
import java.util.concurrent.atomic.AtomicReference
import java.util.{Map => JMap}
import scala.jdk.CollectionConverters._

/** What the driver plugin has heard, for the driver's code (one plugin per driver JVM). */
private[spark] object DriverProgress {
  /** Rank 0's newest report. */
  val latest = new AtomicReference[Progress]()
  /** Reports from rank 0. */
  val received = new java.util.concurrent.atomic.AtomicLong()
  val executors = new java.util.concurrent.ConcurrentHashMap[String, String]()
  /** The newest report of every worker of the newest fit. */
  val workers = new java.util.concurrent.ConcurrentHashMap[Int, Progress]()
  @volatile private var run: String = _
  /** Who else hears a fit's reports (its TensorBoard writer), by run id. */
  private val listeners = new java.util.concurrent.ConcurrentHashMap[String, Progress => Unit]()

  /** `f` hears every report of run `run` until [[unlisten]]; it must not throw. */
  def listen(run: String, f: Progress => Unit): Unit = listeners.put(run, f)
  def unlisten(run: String): Unit = listeners.remove(run)

  def record(p: Progress): Unit = {
    Option(listeners.get(p.run)).foreach(_(p))
    synchronized {
      if (p.run != run) { // a new fit: forget the last one's workers
        run = p.run
        workers.clear()
      }
      workers.put(p.rank, p)
    }
    if (p.rank == 0) {
      latest.set(p)
      received.incrementAndGet()
    }
  }

  /** The worker that waits longest for input (the input-bound straggler), if any reported. */
  def worstInputWait: Option[Progress] = workers.values().asScala.maxByOption(_.inputWaitFraction)

  /** The worker whose device idles most, if any reported. */
  def worstDeviceIdle: Option[Progress] = workers.values().asScala.maxByOption(_.deviceIdleFraction)
}

private[spark] object BiosDriverPlugin {
  /**
   * The progress line of rank 0's report `p`, with the worst input wait (`waits`) and device idle
   * (`idles`) of any worker, and the newest epoch's validation metric when there is one.
   */
  def line(p: Progress, waits: Progress, idles: Progress): String = {
    val rate = p.step / math.max(1e-9, p.elapsedNanos / 1e9)
    // While the first epoch streams in its length (and so the run's) is not known yet.
    val (total, eta) = if (p.totalSteps < 0) ("?", "after epoch 1")
      else (p.totalSteps.toString, f"${(p.totalSteps - p.step) / math.max(rate, 1e-9)}%.0fs")
    val validation = if (p.validationMetric.isEmpty || p.validationValue.isNaN) ""
      else f"${p.validationMetric} ${p.validationValue}%.4f "
    f"bios: epoch ${p.epoch + 1} step ${p.step}/$total loss ${p.loss}%.4f $validation" +
      f"${p.samplesPerSecond}%.0f samples/s input-wait ${100 * waits.inputWaitFraction}%.1f%% (rank ${waits.rank}) " +
      f"device-idle ${100 * idles.deviceIdleFraction}%.1f%% (rank ${idles.rank}) ETA $eta"
  }
}

private[spark] final class BiosDriverPlugin extends DriverPlugin with Logging {
  private val latest = DriverProgress.latest
  @volatile private var printed: Progress = _
  private var printer: ScheduledExecutorService = _

  override def init(sc: SparkContext, ctx: PluginContext): JMap[String, String] = {
    val interval = BiosConf.ProgressInterval.get(sc.getConf).toMillis
    printer = Executors.newSingleThreadScheduledExecutor { r =>
      val t = new Thread(r, "bios-progress")
      t.setDaemon(true)
      t
    }
    printer.scheduleAtFixedRate(() => printLine(), interval, interval, TimeUnit.MILLISECONDS)
    // The Bios tab of the driver's web UI (no second server): the fits' curves, workers and timelines.
    org.apache.spark.ml.bios.SparkUiTab.attach(sc, "bios", "Bios",
      () => BiosPage.content(FitBoard.snapshot()), () => BiosPage.json(FitBoard.snapshot()))
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
    // The worst worker's: the one that sets the pace.
    registry.register(MetricRegistry.name("bios", "inputWaitFraction"), new Gauge[Double] {
      override def getValue: Double = DriverProgress.worstInputWait.map(_.inputWaitFraction).getOrElse(0.0)
    })
    registry.register(MetricRegistry.name("bios", "deviceIdleFraction"), new Gauge[Double] {
      override def getValue: Double = DriverProgress.worstDeviceIdle.map(_.deviceIdleFraction).getOrElse(0.0)
    })
  }

  override def receive(message: Any): AnyRef = {
    message match {
      case p: Progress =>
        DriverProgress.record(p)
        FitBoard.record(p)
        if (p.rank == 0 && p.step == p.totalSteps) printLine()
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
      // Input wait and device idle of the worst worker (the one that sets the pace), with its rank.
      val line = BiosDriverPlugin.line(p, DriverProgress.worstInputWait.getOrElse(p),
        DriverProgress.worstDeviceIdle.getOrElse(p))
      System.out.println(line) // notebooks and spark-submit consoles show stdout
      logDebug(line)
    }
  }

  override def shutdown(): Unit = if (printer != null) printer.shutdownNow()
}
