package ai.bios.spark.internal

import ai.bios.tf.exec.{StepListener, StepMetrics}
import org.apache.spark.SparkConf

/**
 * Test-only fault injection: `spark.bios.test.failAt=<rank>:<step>` makes that rank throw after that
 * step on the stage's first attempt, so tests can prove that Spark's stage retry resumes from the
 * checkpoint. It is honoured only when Spark runs its own tests (`spark.testing` set, or
 * `SPARK_TESTING` in the environment), never in production, and the key is ignored otherwise.
 */
private[spark] object FaultInjection {
  val Key = "spark.bios.test.failAt"

  /** From the Spark conf, or the calling thread's local property of the same name. */
  def fromConf(conf: SparkConf, localProperty: String): Option[(Int, Long)] =
    if (testing) conf.getOption(Key).orElse(Option(localProperty)).map { v =>
      val Array(rank, step) = v.split(":")
      (rank.toInt, step.toLong)
    } else None

  def testing: Boolean = sys.props.contains("spark.testing") || sys.env.contains("SPARK_TESTING")

  final class InjectedFault(msg: String) extends RuntimeException(msg)

  def wrap(fault: Option[(Int, Long)], rank: Int, attempt: Int, inner: StepListener): StepListener =
    fault match {
      case Some((r, step)) if r == rank && attempt == 0 => new StepListener {
        override def onStep(m: StepMetrics): Unit = {
          inner.onStep(m)
          if (m.step == step) throw new InjectedFault(s"injected fault: rank $rank after step $step (attempt 0)")
        }
        override def onCheckpoint(step: Long): Unit = inner.onCheckpoint(step)
      }
      case _ => inner
    }
}
