package ai.bios.spark.internal

import ai.bios.tf.exec.{EpochMetrics, Stage, StepListener, StepMetrics, StepTimeline, ValidationMetric}
import org.apache.spark.api.plugin.PluginContext

/**
 * Sends one worker's progress to the driver at most every `intervalNanos` (and on the last step,
 * and when an epoch ends). With `validation`, the newest epoch's value of that metric rides along;
 * so do the stage durations of the newest [[StepStages.Kept]] steps, read from the run's timeline.
 * `PluginContext.send` is asynchronous; this never blocks the step.
 */
private[spark] final class ProgressSender(ctx: PluginContext, intervalNanos: Long, run: String, rank: Int,
    validation: Option[ValidationMetric] = None, gpu: String = "") extends StepListener {
  private var last = 0L
  private var sent = false
  private var latest: StepMetrics = _
  private var validated = Double.NaN
  @volatile private var timeline: StepTimeline = _

  override def onTimeline(t: StepTimeline): Unit = timeline = t

  override def onStep(m: StepMetrics): Unit = {
    latest = m
    val lastStep = m.step + 1 == m.totalSteps
    if (lastStep || !sent || m.elapsedNanos - last >= intervalNanos) send(m)
  }

  override def onEpoch(e: EpochMetrics): Unit = validation.foreach { metric =>
    validated = metric.of(e)
    if (latest != null) send(latest)
  }

  private def send(m: StepMetrics): Unit = {
    sent = true
    last = m.elapsedNanos
    ctx.send(Progress(run, rank, m.epoch, m.step + 1, m.totalSteps, m.loss, m.samplesPerSecond, m.inputWaitFraction,
      m.deviceIdleFraction, m.elapsedNanos, validation.map(_.label()).getOrElse(""), validated,
      ctx.executorID(), gpu, recent(m.step)))
  }

  /** Stage durations of the steps up to `step`, newest last. */
  private def recent(step: Long): Vector[StepStages] = Option(timeline).toVector.flatMap { t =>
    (math.max(t.firstStep(), step - StepStages.Kept + 1) to step).map { s =>
      StepStages(s, Stage.values().toVector.map(stage => t.duration(s, stage)))
    }
  }
}
