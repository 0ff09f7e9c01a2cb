package ai.bios.spark.internal

import org.apache.spark.{NarrowDependency, SparkContext}
import org.apache.spark.rdd.RDD
import org.apache.spark.ml.bios.SparkInternals

/**
 * Checks before launching the barrier stage, so a job that can never be scheduled fails at once
 * with the numbers and the setting to change, instead of in Spark's barrier slot checks minutes
 * later.
 */
private[spark] object ClusterChecks {

  def check(sc: SparkContext, workers: Int, executorWaitMillis: Long): Unit = {
    if (sc.getConf.getBoolean("spark.dynamicAllocation.enabled", defaultValue = false)) {
      throw new IllegalStateException("spark.dynamicAllocation.enabled=true: Bios trains in one barrier " +
        "stage, which Spark cannot run with dynamic allocation; set spark.dynamicAllocation.enabled=false " +
        "(and size the cluster with spark.executor.instances)")
    }
    val gpus = sc.getConf.getOption("spark.task.resource.gpu.amount")
    // A cluster may still be registering executors: wait a little for them, never for long.
    val deadline = System.currentTimeMillis() + (if (sc.isLocal) 0L else executorWaitMillis)
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

  /**
   * For sharding=direct: the input must have one partition per worker, and its lineage up to the
   * nearest shuffle must keep that partition count, because it runs inside the barrier stage and
   * Spark refuses barrier stages whose narrow ancestors have other partition counts (coalesce,
   * union, limit: SPARK-24820). Fails here, naming the fix, rather than in Spark's scheduler.
   */
  def checkDirectInput(rdd: RDD[_], workers: Int): Unit = {
    if (rdd.getNumPartitions != workers) {
      throw new IllegalArgumentException(s"sharding=direct feeds input partition i to worker i, but the training " +
        s"DataFrame has ${rdd.getNumPartitions} partitions for numWorkers=$workers; repartition it to " +
        s"$workers (df.repartition($workers)) or use sharding=shuffle")
    }
    val seen = scala.collection.mutable.Set[Int]()
    def visit(r: RDD[_]): Unit = if (seen.add(r.id)) {
      if (r.getNumPartitions != workers) {
        throw new IllegalArgumentException(s"sharding=direct runs the DataFrame's lineage inside the training stage, " +
          s"but a step of it (${r.getClass.getSimpleName}, e.g. coalesce, union or limit) has ${r.getNumPartitions} " +
          s"partitions, not $workers, which Spark's barrier mode does not allow; use df.repartition($workers) " +
          "(a shuffle ends the chain) or sharding=shuffle")
      }
      r.dependencies.foreach {
        case n: NarrowDependency[_] => visit(n.rdd)
        case _ => // a shuffle: what lies before it runs in an earlier stage
      }
    }
    visit(rdd)
  }
}
