package ai.bios.spark.internal

import ai.bios.tf.exec.{StepListener, StepMetrics}
import org.apache.spark.SparkConf

/**
 * Test-only fault injection, so tests can prove that Spark's stage retry resumes from the checkpoint:
 *
 *  - `spark.bios.test.failAt=<rank>:<step>`: that rank throws after that step;
 *  - `spark.bios.test.failAt=<rank>:<step>:<file>`: that rank writes its executor's process id to
 *    `<file>` after that step and stops there, for the test to kill the executor JVM;
 *  - `spark.bios.test.failAt=<rank>:<step>:stall`: that rank stops responding after that step
 *    (alive, connected, silent) until Spark kills the task.
 *
 * Only on the stage's first attempt. Honoured only when Spark runs its own tests (`spark.testing`
 * set, or `SPARK_TESTING` in the environment), never in production: the key is ignored otherwise.
 */
private[spark] object FaultInjection {
  val Key = "spark.bios.test.failAt"

  /** Where and how to fail. */
  final case class Fault(rank: Int, step: Long, pidFile: Option[String], stall: Boolean = false)

  /** From the Spark conf, or the calling thread's local property of the same name. */
  def fromConf(conf: SparkConf, localProperty: String): Option[Fault] =
    if (testing) conf.getOption(Key).orElse(Option(localProperty)).map { v =>
      v.split(":", 3) match {
        case Array(rank, step) => Fault(rank.toInt, step.toLong, None)
        case Array(rank, step, "stall") => Fault(rank.toInt, step.toLong, None, stall = true)
        case Array(rank, step, file) => Fault(rank.toInt, step.toLong, Some(file))
      }
    } else None

  def testing: Boolean = sys.props.contains("spark.testing") || sys.env.contains("SPARK_TESTING")

  final class InjectedFault(msg: String) extends RuntimeException(msg)

  def wrap(fault: Option[Fault], rank: Int, attempt: Int, inner: StepListener): StepListener =
    fault match {
      case Some(Fault(r, step, pidFile, stall)) if r == rank && attempt == 0 => new StepListener {
        override def onStep(m: StepMetrics): Unit = {
          inner.onStep(m)
          if (m.step == step) {
            pidFile.foreach { file =>
              val tmp = java.nio.file.Paths.get(file + ".tmp")
              java.nio.file.Files.writeString(tmp, ProcessHandle.current().pid().toString)
              java.nio.file.Files.move(tmp, java.nio.file.Paths.get(file), java.nio.file.StandardCopyOption.ATOMIC_MOVE)
            }
            if (pidFile.isDefined || stall) {
              // Hold here until the test kills this JVM (at most a minute), or for a stall at most 15 s:
              // Spark does not interrupt the tasks of a failed barrier stage attempt, and the
              // retried attempt needs this task's slot.
              val until = System.nanoTime() + (if (stall) 15L else 60L) * 1000 * 1000 * 1000
              while (System.nanoTime() < until && !Thread.currentThread().isInterrupted) {
                java.util.concurrent.locks.LockSupport.parkNanos(100L * 1000 * 1000)
              }
            }
            throw new InjectedFault(s"injected fault: rank $rank after step $step (attempt 0)")
          }
        }
        override def onCheckpoint(step: Long): Unit = inner.onCheckpoint(step)
      }
      case _ => inner
    }
}
