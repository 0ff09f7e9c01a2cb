package ai.bios.spark

import ai.bios.spark.internal.{EventFileReader, TensorBoardWriter}
import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.Row
import org.apache.spark.sql.types.{DoubleType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

import java.net.URI
import java.nio.file.{Files, Path => JPath}
import scala.jdk.CollectionConverters._

/**
 * A fit with tensorBoardDir and reportDir writes one TensorBoard run (read back through the test's
 * own TFRecord/Event reader) and one HTML report per fit, with the summary's numbers; the driver
 * plugin is on, so live progress and the end-of-fit summary share the event file.
 */
class TensorBoardFitSuite extends AnyFunSuite with LocalSpark {
  override protected def extraConf: Map[String, String] = Map(
    "spark.plugins" -> "ai.bios.spark.BiosPlugin",
    "spark.bios.progressInterval" -> "100ms")

  private def local(path: String): JPath = JPath.of(new URI(path).getPath)

  test("each fit writes its own TensorBoard run (loss and learning rate of every step, throughput, " +
    "per-worker fractions, epoch loss) and its own self-contained HTML report") {
    val rnd = new scala.util.Random(5)
    val rows = (0 until 400).map { _ =>
      val x = Array.fill(3)(rnd.nextGaussian())
      Row(Vectors.dense(x), if (x.sum > 0) 1.0 else 0.0)
    }
    val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType)))
    val df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), schema)
    val tbDir = Files.createTempDirectory("bios-tb")
    val reportDir = Files.createTempDirectory("bios-report")
    val est = new BiosEstimator()
      .setModelSpec(ModelSpec.builder(3).dense(4, Activation.TANH).dense(2, Activation.NONE).build())
      .setNumWorkers(2).setBatchSize(20).setEpochs(2).setOptimizer("sgd").setLearningRate(0.1)
      .setLearningRateSchedule("step:5:0.5").setWarmupSteps(3)
      .setTensorBoardDir(tbDir.toUri.toString).setReportDir(reportDir.toUri.toString)
    val first = est.fit(df).summary
    val second = est.fit(df).summary

    val runs = Seq(first, second).map(_.tensorBoardRun.getOrElse(fail("no TensorBoard run in the summary")))
    assert(runs.distinct.size == 2, runs)
    assert(Files.list(tbDir).iterator().asScala.map(_.toUri.getPath.stripSuffix("/")).toSet ==
      runs.map(r => local(r).toString).toSet, "one run directory per fit, nothing else")
    assert(runs.forall(r => local(r).getFileName.toString.contains(est.uid)))

    val steps = first.lossHistory.length
    assert(steps == 40 && first.steps == 40)
    val files = Files.list(local(runs.head)).iterator().asScala.toSeq
    assert(files.size == 1 && files.head.getFileName.toString.startsWith("events.out.tfevents."), files)
    val events = EventFileReader.events(Files.newInputStream(files.head))
    assert(events.head.getFileVersion == TensorBoardWriter.FileVersion)
    val scalars = EventFileReader.scalars(events)
    assert(scalars.map(s => (s.tag, s.step)).distinct.size == scalars.size, "each (tag, step) once")
    def series(tag: String) = scalars.filter(_.tag == tag).sortBy(_.step).map(s => s.step -> s.value)
    assert(series("train/loss") == first.lossHistory.indices.map(i => (i + 1L) -> first.lossHistory(i).toFloat))
    val lr = est.getOptimizerSpec
    assert(series("train/learning_rate") == (0 until steps).map(i => (i + 1L) -> lr.learningRateAt(i).toFloat))
    assert(series("train/learning_rate").map(_._2).distinct.size > 3, "the schedule shows")
    assert(first.history.size == 2)
    assert(series("epoch/train_loss") == first.history.map(e => (e.epoch + 1L) -> e.trainLoss.toFloat))
    for (tag <- Seq("train/samples_per_second") ++ (0 to 1).flatMap(r =>
        Seq(TensorBoardWriter.inputWait(r), TensorBoardWriter.deviceIdle(r)))) {
      val s = series(tag)
      assert(s.nonEmpty && s.last._1 == steps, s"$tag reaches the last step: $s")
      assert(s.forall(_._2 >= 0f) && (tag.contains("samples") || s.forall(_._2 <= 1f)), s"$tag: $s")
    }

    val reports = Seq(first, second).map(_.reportFile.getOrElse(fail("no report in the summary")))
    assert(reports.distinct.size == 2)
    assert(Files.list(reportDir).iterator().asScala.map(_.getFileName.toString).toSet ==
      reports.map(r => local(r).getFileName.toString).toSet, "one report per fit, no checksum files")
    val html = Files.readString(local(reports.head))
    javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder()
      .parse(new java.io.ByteArrayInputStream(html.getBytes("UTF-8"))) // well-formed
    assert(html.contains("id=\"loss-chart\"") && html.contains("<polyline"))
    assert(html.contains(s">${internal.TrainingReportHtml.num(first.finalLoss)}<"), "the final loss")
    first.workers.foreach(w => assert(html.contains(internal.TrainingReportHtml.pct(w.inputWaitFraction))))
    Seq("tensorBoardDir", "learningRateSchedule", "step:5:0.5", "modelSpec", runs.head)
      .foreach(v => assert(html.contains(internal.TrainingReportHtml.esc(v)), v))
    assert(!html.contains("<script") && !html.contains("http"), "self-contained")
  }

  test("tensorBoardDir and reportDir default to off: the summary names no run and no report") {
    val est = new BiosEstimator()
    assert(est.getTensorBoardDir.isEmpty && est.getReportDir.isEmpty)
    val s = TrainingSummary(Array(1.0), 1, 1.0, "simple", Nil)
    assert(s.tensorBoardRun.isEmpty && !s.getReportFile.isPresent)
  }
}
