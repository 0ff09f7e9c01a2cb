package ai.bios.spark.internal

import ai.bios.tf.concurrent.Cancellation
import org.apache.spark.{TaskContext, TaskKilledException}

/**
 * The engine's [[Cancellation]] for a Spark task: its kill flag. Spark kills the other tasks of a
 * failed barrier stage (and cancelled jobs' tasks) without interrupting their threads; every wait
 * of the ring, the step loop and the prefetch queue checks this at least once a second.
 */
private[spark] object KillFlag {
  /** Throws `TaskKilledException` once Spark has killed `ctx`'s task; never, without a task. */
  def of(ctx: TaskContext, task: String): Cancellation = () =>
    if (ctx != null && ctx.isInterrupted()) {
      throw new TaskKilledException(s"Spark killed $task; leaving so its slot is freed")
    }
}
