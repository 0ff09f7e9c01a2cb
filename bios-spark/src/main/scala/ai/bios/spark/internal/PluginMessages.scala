package ai.bios.spark.internal

// The messages the training tasks and executors send to the driver plugin (PluginContext.send).

/**
 * A training task's progress, sent by every worker to the driver. Loss, step, samples/s and the
 * validation metric are global (the same on every worker); input wait and device idle are the
 * worker's own. `validationMetric` names the metric of `validationValue` (the newest finished
 * epoch's; NaN before the first), or is empty without validation. `executorId` and `gpu` (empty
 * without one) say where the worker runs; `recent` holds the stage durations of its newest steps
 * (at most [[StepStages.Kept]]), for the Bios tab's timeline.
 */
private[spark] final case class Progress(
    run: String, rank: Int, epoch: Int, step: Long, totalSteps: Long, loss: Double, samplesPerSecond: Double,
    inputWaitFraction: Double, deviceIdleFraction: Double, elapsedNanos: Long,
    validationMetric: String = "", validationValue: Double = Double.NaN,
    executorId: String = "", gpu: String = "", recent: Vector[StepStages] = Vector.empty) extends Serializable

/**
 * One step's stage durations in nanoseconds, indexed by `ai.bios.tf.exec.Stage` ordinal (-1: the
 * stage did not run, or had not finished when the step was reported).
 */
private[spark] final case class StepStages(step: Long, nanos: Vector[Long]) extends Serializable

private[spark] object StepStages {
  /** Steps of stage durations a progress message carries, at most. */
  val Kept = 12
}

/** An executor's TensorFlow, reported once when it loads. */
private[spark] final case class ExecutorReady(executorId: String, tensorflowVersion: String) extends Serializable
