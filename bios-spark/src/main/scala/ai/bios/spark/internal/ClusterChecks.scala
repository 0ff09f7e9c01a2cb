package ai.bios.spark.internal

import org.apache.spark.SparkContext
import org.apache.spark.ml.bios.SparkInternals

/**
 * Checks before launching the barrier stage, so a job that can never be scheduled fails at once
 * with the numbers and the setting to change, instead of in Spark's barrier slot checks minutes
 * later.
 */
private[spark] object ClusterChecks {

  def check(sc: SparkContext, workers: Int, executorWait: Long = 30000L): Unit = {
    if (sc.getConf.getBoolean("spark.dynamicAllocation.enabled", defaultValue = false)) {
      throw new IllegalStateException("spark.dynamicAllocation.enabled=true: Bios trains in one barrier " +
        "stage, which Spark cannot run with dynamic allocation; set spark.dynamicAllocation.enabled=false " +
        "(and size the cluster with spark.executor.instances)")
    }
    val gpus = sc.getConf.getOption("spark.task.resource.gpu.amount")
    // A cluster may still be registering executors: wait a little for them, never for long.
    val deadline = System.currentTimeMillis() + (if (sc.isLocal) 0L else executorWait)
    var slots = SparkInternals.maxConcurrentTasks(sc)
    while (slots < workers && System.currentTimeMillis() < deadline) {
      Thread.sleep(200) // polling the scheduler's view of registered executors
      slots = SparkInternals.maxConcurrentTasks(sc)
    }
    if (slots < workers) {
      val what = gpus.map(g => s"task slots with a GPU (spark.task.resource.gpu.amount=$g)").getOrElse("task slots")
      throw new IllegalStateException(s"numWorkers=$workers but the cluster has $slots $what; lower numWorkers " +
        s"to $slots or add executors (spark.executor.instances, spark.executor.cores" +
        gpus.map(_ => ", spark.executor.resource.gpu.amount").getOrElse("") + ")")
    }
  }
}
