package ai.bios.spark.internal

import ai.bios.spark.TrainingSummary
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.internal.Logging

import java.io.IOException
import java.time.format.DateTimeFormatter
import java.time.{Instant, ZoneOffset}
import scala.util.control.NonFatal

/**
 * What one fit writes for people besides the model: its TensorBoard run (`tensorBoardDir`) and its
 * HTML training report (`reportDir`), both named `<UTC yyyyMMdd-HHmmss>-<estimator uid>-<fit id>`.
 * Opened before training (so a bad directory fails before any cluster work, and the driver plugin's
 * live progress reaches TensorBoard while training); [[finish]] writes the rest from the summary.
 * The fit's thread owns it: [[close]] on every path (finish closes too).
 */
private[spark] final class FitOutputs private (
    val runName: String, runId: String, tensorBoard: Option[TensorBoardWriter], reportDir: Option[String],
    conf: Configuration, startSeconds: Double) extends AutoCloseable with Logging {

  /**
   * Writes the summary's steps and `epochMetrics` (per finished epoch, 1-based: (name, value) pairs
   * such as train_loss, val_loss; also drawn as per-epoch curves in the report) to TensorBoard, writes
   * the report with `settings`, closes, and returns the summary with where they went.
   */
  def finish(summary: TrainingSummary, learningRateAt: Long => Double, epochMetrics: Seq[(Int, Seq[(String, Double)])],
      settings: Seq[(String, String)], title: String): TrainingSummary = {
    DriverProgress.unlisten(runId)
    try {
      val end = TensorBoardWriter.now()
      // The model is trained: a file system failing now is logged, not thrown (the path is then None).
      val tensorBoardRun = tensorBoard.flatMap { w =>
        attempt(s"tensorBoardDir: the TensorBoard run ${w.runDir}") {
          w.writeSummary(summary, learningRateAt, startSeconds, end)
          epochMetrics.foreach { case (epoch, metrics) => w.epoch(epoch, metrics, end) }
          w.close()
          w.runDir
        }
      }
      val report = reportDir.flatMap { dir =>
        val file = new Path(dir, s"$runName.html")
        attempt(s"reportDir: the training report $file") {
          val curves = epochMetrics.flatMap(_._2.map(_._1)).distinct.map { name =>
            TrainingReportHtml.Curve(name, epochMetrics.flatMap { case (e, m) => m.find(_._1 == name).map(v => (e, v._2)) })
          }
          TrainingReportHtml.write(file, TrainingReportHtml.render(title, summary, settings, curves, tensorBoardRun), conf)
          logInfo(s"training report: $file")
          file.toString
        }
      }
      summary.copy(tensorBoardRun = tensorBoardRun, reportFile = report)
    } finally close()
  }

  private def attempt[T](what: String)(f: => T): Option[T] =
    try Some(f) catch {
      case NonFatal(e) =>
        logWarning(s"$what could not be written: ${e.getMessage}", e)
        None
    }

  override def close(): Unit = {
    DriverProgress.unlisten(runId)
    tensorBoard.foreach(_.close())
  }
}

private[spark] object FitOutputs extends Logging {
  private val Stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC)

  /**
   * Opens the outputs of fit `runId` (`<uid>-<fit id>`); empty directories are off. Creates the
   * TensorBoard run (its event file) and the report directory now, failing naming the param.
   */
  def open(tensorBoardDir: String, reportDir: String, uid: String, runId: String, conf: Configuration): FitOutputs = {
    val start = TensorBoardWriter.now()
    val runName = s"${Stamp.format(Instant.ofEpochMilli((start * 1000).toLong))}-$uid-${runId.stripPrefix(uid + "-").take(8)}"
    val report = Option(reportDir).filter(_.nonEmpty)
    report.foreach { dir =>
      try new Path(dir).getFileSystem(conf).mkdirs(new Path(dir)) catch {
        case e: IOException => throw new IllegalArgumentException(s"reportDir $dir cannot be created: ${e.getMessage}; " +
          "point reportDir at a directory this driver can write", e)
      }
    }
    val tensorBoard = Option(tensorBoardDir).filter(_.nonEmpty).map { dir =>
      val w = TensorBoardWriter.create(dir, runName, conf)
      logInfo(s"TensorBoard run ${w.runDir} (view with: tensorboard --logdir $dir)")
      DriverProgress.listen(runId, p => try w.onProgress(p) catch {
        case NonFatal(e) => logWarning(s"TensorBoard run ${w.runDir}: live progress not written", e)
      })
      w
    }
    new FitOutputs(runName, runId, tensorBoard, report, conf, start)
  }

  /**
   * Each epoch's numbers from the summary's history (epoch 1-based): the mean training loss, the
   * validation metrics the fit has and the learning rate.
   */
  def epochMetrics(summary: TrainingSummary): Seq[(Int, Seq[(String, Double)])] =
    summary.history.map { e =>
      (e.epoch + 1, Seq("train_loss" -> e.trainLoss, "val_loss" -> e.valLoss, "val_accuracy" -> e.valAccuracy,
        "val_auc" -> e.valAuc, "learning_rate" -> e.learningRate).filterNot(_._2.isNaN))
    }
}
