package ai.bios.spark

import ai.bios.spark.internal.TrainingHooks
import ai.bios.tf.exec.{EpochMetrics, StepListener, StepMetrics, StepTimeline}
import org.apache.spark.sql.SparkSession

import java.nio.file.{Files, Paths, StandardCopyOption}

/**
 * Fault injection for the retry tests, named by `spark.bios.internal.trainingHooks`. The fault is
 * the fitting thread's local property [[FaultHooks.Property]], `<rank>:<where>[:<action>]`:
 *
 *  - where: a step number (after that step), `ckpt<N>` (after the checkpoint for step N is
 *    written: rank 0, the writer), or `@<phase>` (`rendezvous`, `connect` or `trained`: see [[TrainingHooks]]);
 *  - action: none (throw), `stall` (stop responding, alive and connected, until Spark kills the
 *    task, at most 15 s), or a file (write this executor's process id there and hold, at most a
 *    minute, for the test to kill the executor JVM).
 *
 * Only on the stage's first attempt. With the local property [[FaultHooks.Reasons]] naming a
 * directory, every task writes there, as it ends, how it ended (`attempt<A>-rank<R>.txt`: `ok`, or
 * its failure and causes), for tests to check why the survivors of a lost executor stopped.
 */
final class FaultHooks extends TrainingHooks {
  private val (fault, reasons) = {
    val sc = SparkSession.active.sparkContext
    (Option(sc.getLocalProperty(FaultHooks.Property)).map(FaultHooks.parse),
      Option(sc.getLocalProperty(FaultHooks.Reasons)))
  }

  private def mine(rank: Int, attempt: Int): Option[FaultHooks.Fault] =
    fault.filter(f => f.rank == rank && attempt == 0)

  override def reached(phase: String, rank: Int, stageAttempt: Int): Unit =
    mine(rank, stageAttempt).filter(_.where == s"@$phase").foreach(f => fire(f, rank))

  override def listener(rank: Int, stageAttempt: Int, inner: StepListener): StepListener =
    mine(rank, stageAttempt) match {
      case Some(f) => new StepListener {
        override def onStep(m: StepMetrics): Unit = {
          inner.onStep(m)
          if (f.where == m.step.toString) fire(f, rank)
        }
        override def onCheckpoint(step: Long): Unit = {
          inner.onCheckpoint(step)
          if (f.where == s"ckpt$step") fire(f, rank)
        }
        override def onEpoch(e: EpochMetrics): Unit = inner.onEpoch(e)
        override def onTimeline(t: StepTimeline): Unit = inner.onTimeline(t)
      }
      case None => inner
    }

  override def ended(rank: Int, stageAttempt: Int, failure: Option[Throwable]): Unit = reasons.foreach { dir =>
    val text = failure.map { e =>
      Iterator.iterate(e)(_.getCause).takeWhile(_ != null).map(c => s"${c.getClass.getName}: ${c.getMessage}")
        .mkString("\n")
    }.getOrElse("ok")
    val file = Paths.get(dir, s"attempt$stageAttempt-rank$rank.txt")
    val tmp = Paths.get(dir, s".attempt$stageAttempt-rank$rank.tmp")
    Files.writeString(tmp, text)
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING)
  }

  private def fire(f: FaultHooks.Fault, rank: Int): Unit = {
    f.pidFile.foreach { file =>
      val tmp = Paths.get(file + ".tmp")
      Files.writeString(tmp, ProcessHandle.current().pid().toString)
      Files.move(tmp, Paths.get(file), StandardCopyOption.ATOMIC_MOVE)
    }
    if (f.pidFile.isDefined || f.stall) {
      // Hold here until the test kills this JVM (at most a minute), or for a stall until Spark kills
      // the task (at most 15 s): the retried attempt needs this task's slot.
      val until = System.nanoTime() + (if (f.stall) 15L else 60L) * 1000 * 1000 * 1000
      val task = Option(org.apache.spark.TaskContext.get())
      while (System.nanoTime() < until && !Thread.currentThread().isInterrupted && !task.exists(_.isInterrupted())) {
        java.util.concurrent.locks.LockSupport.parkNanos(100L * 1000 * 1000)
      }
    }
    throw new FaultHooks.InjectedFault(s"injected fault: rank $rank at ${f.where} (attempt 0)")
  }
}

object FaultHooks {
  /** The local property holding the fault. */
  val Property = "bios.test.failAt"
  /** The local property naming the directory where tasks write how they ended. */
  val Reasons = "bios.test.reasons"

  /** The settings a suite adds to use these hooks. */
  val Conf: Map[String, String] = Map("spark.bios.internal.trainingHooks" -> classOf[FaultHooks].getName)

  final case class Fault(rank: Int, where: String, pidFile: Option[String], stall: Boolean = false)

  final class InjectedFault(msg: String) extends RuntimeException(msg)

  def parse(v: String): Fault = v.split(":", 3) match {
    case Array(rank, where) => Fault(rank.toInt, where, None)
    case Array(rank, where, "stall") => Fault(rank.toInt, where, None, stall = true)
    case Array(rank, where, file) => Fault(rank.toInt, where, Some(file))
  }
}
