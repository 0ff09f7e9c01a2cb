package ai.bios.spark

import ai.bios.spark.internal.TrainingHooks
import ai.bios.tf.exec.{StepListener, StepMetrics}
import org.apache.spark.sql.SparkSession

import java.nio.file.{Files, Paths, StandardCopyOption}

/**
 * Fault injection for the retry tests, named by `spark.bios.internal.trainingHooks`. The fault is
 * the fitting thread's local property [[FaultHooks.Property]]:
 *
 *  - `<rank>:<step>`: that rank throws after that step;
 *  - `<rank>:<step>:<file>`: that rank writes its executor's process id to `<file>` after that step
 *    and stops there, for the test to kill the executor JVM;
 *  - `<rank>:<step>:stall`: that rank stops responding after that step (alive, connected, silent)
 *    until Spark kills the task.
 *
 * Only on the stage's first attempt.
 */
final class FaultHooks extends TrainingHooks {
  private val fault: Option[FaultHooks.Fault] =
    Option(SparkSession.active.sparkContext.getLocalProperty(FaultHooks.Property)).map(FaultHooks.parse)

  override def listener(rank: Int, stageAttempt: Int, inner: StepListener): StepListener = fault match {
    case Some(f) if f.rank == rank && stageAttempt == 0 => new StepListener {
      override def onStep(m: StepMetrics): Unit = {
        inner.onStep(m)
        if (m.step == f.step) {
          f.pidFile.foreach { file =>
            val tmp = Paths.get(file + ".tmp")
            Files.writeString(tmp, ProcessHandle.current().pid().toString)
            Files.move(tmp, Paths.get(file), StandardCopyOption.ATOMIC_MOVE)
          }
          if (f.pidFile.isDefined || f.stall) {
            // Hold here until the test kills this JVM (at most a minute), or for a stall at most 15 s:
            // Spark does not interrupt the tasks of a failed barrier stage attempt, and the
            // retried attempt needs this task's slot.
            val until = System.nanoTime() + (if (f.stall) 15L else 60L) * 1000 * 1000 * 1000
            while (System.nanoTime() < until && !Thread.currentThread().isInterrupted) {
              java.util.concurrent.locks.LockSupport.parkNanos(100L * 1000 * 1000)
            }
          }
          throw new FaultHooks.InjectedFault(s"injected fault: rank $rank after step ${f.step} (attempt 0)")
        }
      }
      override def onCheckpoint(step: Long): Unit = inner.onCheckpoint(step)
    }
    case _ => inner
  }
}

object FaultHooks {
  /** The local property holding the fault. */
  val Property = "bios.test.failAt"

  /** The settings a suite adds to use these hooks. */
  val Conf: Map[String, String] = Map("spark.bios.internal.trainingHooks" -> classOf[FaultHooks].getName)

  final case class Fault(rank: Int, step: Long, pidFile: Option[String], stall: Boolean = false)

  final class InjectedFault(msg: String) extends RuntimeException(msg)

  def parse(v: String): Fault = v.split(":", 3) match {
    case Array(rank, step) => Fault(rank.toInt, step.toLong, None)
    case Array(rank, step, "stall") => Fault(rank.toInt, step.toLong, None, stall = true)
    case Array(rank, step, file) => Fault(rank.toInt, step.toLong, Some(file))
  }
}
