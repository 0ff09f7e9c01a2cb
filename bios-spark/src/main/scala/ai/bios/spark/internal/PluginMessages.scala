package ai.bios.spark.internal

// The messages the training tasks and executors send to the driver plugin (PluginContext.send).

/**
 * A training task's progress, sent by every worker to the driver. Loss, step, samples/s and the
 * validation metric are global (the same on every worker); input wait and device idle are the
 * worker's own. `validationMetric` names the metric of `validationValue` (the newest finished
 * epoch's; NaN before the first), or is empty without validation.
 */
private[spark] final case class Progress(
    run: String, rank: Int, epoch: Int, step: Long, totalSteps: Long, loss: Double, samplesPerSecond: Double,
    inputWaitFraction: Double, deviceIdleFraction: Double, elapsedNanos: Long,
    validationMetric: String = "", validationValue: Double = Double.NaN) extends Serializable

/** An executor's TensorFlow, reported once when it loads. */
private[spark] final case class ExecutorReady(executorId: String, tensorflowVersion: String) extends Serializable
