package ai.bios.spark.internal

import ai.bios.tf.exec.{StepListener, StepMetrics}
import org.apache.spark.api.plugin.PluginContext

/**
 * Sends one worker's progress to the driver at most every `intervalNanos` (and on the last step).
 * `PluginContext.send` is asynchronous; this never blocks the step.
 */
private[spark] final class ProgressSender(ctx: PluginContext, intervalNanos: Long, run: String, rank: Int)
  extends StepListener {
  private var last = 0L
  private var sent = false

  override def onStep(m: StepMetrics): Unit = {
    val lastStep = m.step + 1 == m.totalSteps
    if (lastStep || !sent || m.elapsedNanos - last >= intervalNanos) {
      sent = true
      last = m.elapsedNanos
      ctx.send(Progress(run, rank, m.epoch, m.step + 1, m.totalSteps, m.loss, m.samplesPerSecond, m.inputWaitFraction,
        m.deviceIdleFraction, m.elapsedNanos))
    }
  }
}
