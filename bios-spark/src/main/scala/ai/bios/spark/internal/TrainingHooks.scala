package ai.bios.spark.internal

import ai.bios.spark.conf.BiosConf
import ai.bios.tf.exec.StepListener
import org.apache.spark.internal.Logging
import org.apache.spark.sql.SparkSession

/**
 * Points where Bios's own tests reach into a training task (to inject a fault at a chosen step,
 * say). Production runs use [[TrainingHooks.None]]; implementations live in test code and are named
 * by the internal key `spark.bios.internal.trainingHooks`, honoured only while Spark runs its tests.
 *
 * An implementation has a no-argument constructor, is built on the driver when `fit` starts (so it
 * can read the fitting thread's local properties) and is serialized to every task.
 */
private[spark] trait TrainingHooks extends Serializable {
  /** The step listener of worker `rank` on attempt `stageAttempt` of the training stage. */
  def listener(rank: Int, stageAttempt: Int, inner: StepListener): StepListener = inner

  /** Worker `rank` reached `phase` ([[TrainingHooks.Rendezvous]], `Connect` or `Trained`). */
  def reached(phase: String, rank: Int, stageAttempt: Int): Unit = ()

  /** Worker `rank`'s task ends, with its failure if it failed. */
  def ended(rank: Int, stageAttempt: Int, failure: Option[Throwable]): Unit = ()
}

private[spark] object TrainingHooks extends Logging {
  object None extends TrainingHooks

  /** Before the rendezvous (`allGather`). */
  val Rendezvous = "rendezvous"
  /** After the rendezvous, before joining the ring. */
  val Connect = "connect"
  /** Training has ended; the task is about to return its result. */
  val Trained = "trained"

  /** The hooks the session names, or [[None]] (always outside Spark's tests). */
  def load(session: SparkSession): TrainingHooks = {
    val name = BiosConf.TrainingHooks.get(session)
    if (name.isEmpty) {
      None
    } else if (!testing) {
      logWarning(s"${BiosConf.TrainingHooks.key} is for Bios's own tests; ignored")
      None
    } else {
      Class.forName(name, true, Thread.currentThread().getContextClassLoader)
        .getDeclaredConstructor().newInstance().asInstanceOf[TrainingHooks]
    }
  }

  def testing: Boolean = sys.props.contains("spark.testing") || sys.env.contains("SPARK_TESTING")
}
