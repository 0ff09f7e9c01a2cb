package ai.bios.spark.internal

// The messages the training tasks and executors send to the driver plugin (PluginContext.send).

/**
 * A training task's progress, sent by every worker to the driver. Loss, step and samples/s are
 * global (the same on every worker); input wait and device idle are the worker's own.
 */
private[spark] final case class Progress(
    run: String, rank: Int, epoch: Int, step: Long, totalSteps: Long, loss: Double, samplesPerSecond: Double,
    inputWaitFraction: Double, deviceIdleFraction: Double, elapsedNanos: Long) extends Serializable

/** An executor's TensorFlow, reported once when it loads. */
private[spark] final case class ExecutorReady(executorId: String, tensorflowVersion: String) extends Serializable
