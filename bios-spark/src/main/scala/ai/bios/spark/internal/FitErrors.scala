package ai.bios.spark.internal

import ai.bios.tf.{BadInputException, BiosException}
import org.apache.spark.SparkException

/**
 * Bios's own error first. A bad row or setting found inside a task reaches the driver wrapped in
 * Spark's "Job aborted due to stage failure: Task 0 in stage ... failed ..." with the useful
 * sentence (column, row, value, fix) buried under a stack trace. `fit` rethrows Bios's error
 * instead, keeping Spark's exception as the cause.
 */
private[spark] object FitErrors {

  /** The Bios error inside `e`, as the top-level exception with `e` as its cause; else `e` itself. */
  def userFacing(e: SparkException): Throwable =
    Iterator.iterate[Throwable](e)(_.getCause).takeWhile(_ != null).collectFirst { case b: BiosException => b } match {
      case Some(b: BadInputException) => lift("BadInputException", b.getMessage, e)
      case Some(b) => lift("BiosException", b.getMessage, e)
      case None =>
        // A failed barrier stage is aborted without the task's exception attached; Spark's message
        // still quotes it ("most recent failure: Lost task ...: ai.bios.tf.X: <message>").
        Quoted.findFirstMatchIn(Option(e.getMessage).getOrElse("")) match {
          case Some(m) => lift(m.group(1), m.group(2), e)
          case None => e
        }
    }

  /**
   * The error of kind `kind` with `message`, as the top-level exception. A worker that failed
   * because its peer did says "rank A: rank B failed: <kind>: <message>" (the reason the peer sent
   * through the ring): the peer's own error is what the user needs, so it is lifted out.
   */
  @annotation.tailrec
  private def lift(kind: String, message: String, e: SparkException): Throwable = message match {
    case Relayed(inner, text) => lift(inner, text, e)
    case _ if kind == "BadInputException" => new BadInputException(message, e)
    case _ => new BiosException(message, e)
  }

  private val Quoted = """ai\.bios\.tf\.(BadInputException|BiosException|InvalidSettingException): ([^\n]+)""".r
  private val Relayed = """(?s)rank \d+: rank \d+ failed: (BadInputException|BiosException|InvalidSettingException): (.+)""".r

  /**
   * Runs `body` with the fit named in the Spark UI (jobs page: job group and description), and
   * Bios's error first if it fails; restores the caller's job group and description after.
   */
  def asFit[T](sc: org.apache.spark.SparkContext, group: String, description: String)(body: => T): T = {
    val keys = Seq("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel")
    val saved = keys.map(k => k -> sc.getLocalProperty(k))
    sc.setJobGroup(group, description, interruptOnCancel = false)
    try body catch {
      case e: SparkException => throw userFacing(e)
    } finally {
      saved.foreach { case (k, v) => sc.setLocalProperty(k, v) }
    }
  }
}
