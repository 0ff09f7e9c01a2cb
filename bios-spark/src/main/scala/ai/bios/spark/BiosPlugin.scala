package ai.bios.spark

import ai.bios.spark.internal.{BiosDriverPlugin, BiosExecutorPlugin}
import org.apache.spark.api.plugin.{DriverPlugin, ExecutorPlugin, SparkPlugin}

/**
 * The Spark plugin: `spark.plugins=ai.bios.spark.BiosPlugin`.
 *
 *  - On the driver: receives live progress from the training tasks and prints a progress line at a
 *    steady rate (`spark.bios.progressInterval`, default 10s); registers Bios's metrics (loss,
 *    step, samples/s, input wait, device idle) with Spark's metrics system.
 *  - On each executor: loads TensorFlow's native library when the executor starts, not at the
 *    first step, and reports its version once.
 *
 * Training works without the plugin, minus the live progress.
 */
class BiosPlugin extends SparkPlugin {
  override def driverPlugin(): DriverPlugin = new BiosDriverPlugin
  override def executorPlugin(): ExecutorPlugin = new BiosExecutorPlugin
}
