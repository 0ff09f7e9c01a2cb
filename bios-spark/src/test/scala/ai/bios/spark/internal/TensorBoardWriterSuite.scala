package ai.bios.spark.internal

import ai.bios.tf.exec.EpochMetrics

import ai.bios.spark.{TrainingSummary, WorkerSummary}
import org.apache.hadoop.conf.Configuration
import org.scalatest.funsuite.AnyFunSuite

import java.io.{ByteArrayInputStream, ByteArrayOutputStream, IOException}
import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path => JPath}
import java.util.zip.CRC32C
import scala.jdk.CollectionConverters._

/** Event files read back through an independent reader, CRCs verified; and the HTML report. */
class TensorBoardWriterSuite extends AnyFunSuite {
  private val worker0 = WorkerSummary(0, Some("0"), "0", 500, 0, 120, 1234.5,
    Map("input" -> 1.5, "compute" -> 2.25), 0.25, 0.125, 4, 3.5, 1.75, 0)
  private val worker1 = worker0.copy(rank = 1, gpu = None, pinnedDevices = "", deviceIdleFraction = 0.5,
    inputWaitFraction = 0.375, stageMillis = Map("input" -> 0.75, "aggregate" -> 4.125))
  private val summary = TrainingSummary(Array(0.75, 0.5, 0.375, 0.25), 4, 2.0, "efficient", Seq(worker0, worker1))

  private def tempDir(): JPath = Files.createTempDirectory("bios-tb")

  private def eventFile(runDir: String): JPath = {
    val files = Files.list(JPath.of(new java.net.URI(runDir).getPath)).iterator().asScala.toSeq
    assert(files.size == 1, files)
    assert(files.head.getFileName.toString.startsWith("events.out.tfevents."), "TensorBoard reads *tfevents* files")
    files.head
  }

  test("CRC-32C is the Castagnoli checksum (check value of \"123456789\") and the mask is TensorFlow's") {
    val crc = new CRC32C()
    crc.update("123456789".getBytes(StandardCharsets.US_ASCII))
    assert(crc.getValue == 0xE3069283L)
    val c = 0xE3069283
    assert(TensorBoardWriter.maskedCrc32c("123456789".getBytes(StandardCharsets.US_ASCII), 0, 9) ==
      ((c >>> 15) | (c << 17)) + 0xa282ead8)
  }

  test("a record is length, masked CRC of the length, data, masked CRC of the data, little-endian") {
    val out = new ByteArrayOutputStream()
    val data = "abc".getBytes(StandardCharsets.US_ASCII)
    TensorBoardWriter.frame(out, data)
    val bytes = out.toByteArray
    assert(bytes.length == 8 + 4 + 3 + 4)
    assert(bytes.take(8).toSeq == Seq[Byte](3, 0, 0, 0, 0, 0, 0, 0))
    assert(bytes.slice(12, 15).toSeq == data.toSeq)
    assert(EventFileReader.records(new ByteArrayInputStream(bytes)).map(_.toSeq) == Seq(data.toSeq))
  }

  test("TensorFlow's own summary writer's file reads through the reader, and our framing of its records " +
    "reproduces the file byte for byte") {
    val dir = tempDir()
    scala.util.Using.resource(org.tensorflow.EagerSession.create()) { session =>
      val tf = org.tensorflow.op.Ops.create(session)
      val w = tf.summary.summaryWriter(org.tensorflow.op.summary.SummaryWriter.sharedName("bios-test"))
      tf.summary.createSummaryFileWriter(w, tf.constant(dir.toString), tf.constant(10), tf.constant(60000), tf.constant(".tf"))
      tf.summary.writeScalarSummary(w, tf.constant(7L), tf.constant("train/loss"), tf.constant(0.5f))
      tf.summary.writeScalarSummary(w, tf.constant(8L), tf.constant("train/loss"), tf.constant(0.25f))
      tf.summary.flushSummaryWriter(w)
      tf.summary.closeSummaryWriter(w)
    }
    val file = Files.list(dir).iterator().asScala.toSeq.filter(_.getFileName.toString.contains("tfevents")) match {
      case Seq(f) => f
      case other => fail(s"TensorFlow wrote $other")
    }
    val tfBytes = Files.readAllBytes(file)
    val records = EventFileReader.records(new ByteArrayInputStream(tfBytes))
    val events = records.map(r => org.tensorflow.proto.Event.parseFrom(r))
    assert(events.head.getFileVersion == TensorBoardWriter.FileVersion, "the same first event as ours")
    assert(events.filter(_.hasSummary).map(e => (e.getStep, e.getSummary.getValue(0).getTag)) ==
      Seq(7L -> "train/loss", 8L -> "train/loss"))
    val ours = new ByteArrayOutputStream()
    records.foreach(r => TensorBoardWriter.frame(ours, r))
    assert(ours.toByteArray.toSeq == tfBytes.toSeq)
  }

  test("the reader detects a CRC mismatch in the data, in the length, and a truncated record") {
    val out = new ByteArrayOutputStream()
    TensorBoardWriter.frame(out, "payload".getBytes(StandardCharsets.US_ASCII))
    val good = out.toByteArray
    def corrupt(i: Int) = { val b = good.clone(); b(i) = (b(i) ^ 1).toByte; new ByteArrayInputStream(b) }
    assert(intercept[IOException](EventFileReader.records(corrupt(14))).getMessage.contains("data CRC mismatch"))
    assert(intercept[IOException](EventFileReader.records(corrupt(good.length - 1))).getMessage.contains("data CRC"))
    assert(intercept[IOException](EventFileReader.records(corrupt(0))).getMessage.contains("length CRC mismatch"))
    assert(intercept[IOException](EventFileReader.records(new ByteArrayInputStream(good.dropRight(2))))
      .getMessage.contains("truncated"))
  }

  test("the event file holds the file version, then loss and learning rate of every step, throughput, " +
    "per-worker fractions and epoch scalars, each (tag, step) once, live progress included") {
    val dir = tempDir()
    val w = TensorBoardWriter.create(dir.toUri.toString, "run-a", new Configuration())
    // Live progress of rank 0 at step 2 and rank 1 at step 2, then again (a duplicate delivery).
    val live = Progress("r", 0, 0, 2, 4, 0.5, 999.0, 0.0625, 0.03125, 1000L)
    w.onProgress(live)
    w.onProgress(live.copy(rank = 1, inputWaitFraction = 0.5))
    w.onProgress(live)
    w.writeSummary(summary, step => 0.001 * (step + 1), 100.0, 102.0)
    w.epoch(1, Seq("train_loss" -> 0.625, "val_loss" -> 0.7))
    w.close()
    w.onProgress(live.copy(step = 3)) // after close: dropped, no exception
    val events = EventFileReader.events(Files.newInputStream(eventFile(w.runDir)))
    assert(events.head.getFileVersion == TensorBoardWriter.FileVersion)
    val scalars = EventFileReader.scalars(events)
    assert(scalars.map(s => (s.tag, s.step)).distinct.size == scalars.size, "every (tag, step) once")
    def series(tag: String) = scalars.filter(_.tag == tag).map(s => s.step -> s.value).sortBy(_._1)
    assert(series("train/loss") == summary.lossHistory.indices.map(i => (i + 1L) -> summary.lossHistory(i).toFloat))
    assert(series("train/learning_rate") == (0 until 4).map(i => (i + 1L) -> (0.001 * (i + 1)).toFloat))
    assert(series("train/samples_per_second") == Seq(2L -> 999f, 4L -> 1234.5f), "live at step 2, the run's at the end")
    assert(series("worker_0/input_wait_fraction") == Seq(2L -> 0.0625f, 4L -> 0.125f))
    assert(series("worker_1/input_wait_fraction") == Seq(2L -> 0.5f, 4L -> 0.375f))
    assert(series("worker_1/device_idle_fraction") == Seq(2L -> 0.03125f, 4L -> 0.5f))
    assert(series("epoch/train_loss") == Seq(1L -> 0.625f) && series("epoch/val_loss") == Seq(1L -> 0.7f))
    val lossWalls = scalars.filter(s => s.tag == "train/loss" && s.step != 2).map(_.wallTime)
    assert(lossWalls == Seq(100.5, 101.5, 102.0), "summary steps spread over the fit's time")
  }

  test("a tensorBoardDir that cannot hold the run fails at once, naming tensorBoardDir, the path and the fix") {
    val dir = tempDir()
    Files.writeString(dir.resolve("run"), "a file where the run directory would go")
    val e = intercept[IllegalArgumentException](TensorBoardWriter.create(dir.toUri.toString, "run", new Configuration()))
    assert(e.getMessage.contains("tensorBoardDir") && e.getMessage.contains("run") && e.getMessage.contains("point"),
      e.getMessage)
  }

  test("epochMetrics: each epoch of the history, 1-based, with the numbers it has (no NaN)") {
    val history = Seq(
      new EpochMetrics(0, 0.625, 100, 0.7, 0.8, 0.9, 20, 0.001, 1.0),
      new EpochMetrics(1, 0.3125, 100, Double.NaN, Double.NaN, Double.NaN, 0, 0.0005, 1.0))
    assert(FitOutputs.epochMetrics(summary.copy(history = history)) == Seq(
      1 -> Seq("train_loss" -> 0.625, "val_loss" -> 0.7, "val_accuracy" -> 0.8, "val_auc" -> 0.9, "learning_rate" -> 0.001),
      2 -> Seq("train_loss" -> 0.3125, "learning_rate" -> 0.0005)))
    assert(FitOutputs.epochMetrics(summary) == Nil)
  }

  test("the report is one well-formed self-contained file with the summary's numbers and the settings") {
    val html = TrainingReportHtml.render("Bios fit <x>", summary, Seq("learningRate" -> "0.001", "checkpointDir" -> "a&b"),
      Seq(TrainingReportHtml.Curve("val_loss", Seq(1 -> 0.7, 2 -> 0.6))), Some("file:/tmp/tb/run"))
    val doc = javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder()
      .parse(new ByteArrayInputStream(html.getBytes(StandardCharsets.UTF_8)))
    def byId(id: String) = {
      val all = doc.getElementsByTagName("*")
      (0 until all.getLength).map(all.item).find(_.getAttributes.getNamedItem("id") match {
        case null => false
        case a => a.getNodeValue == id
      }).getOrElse(fail(s"no element $id"))
    }
    assert(byId("loss-chart").getNodeName == "svg")
    val points = byId("loss-chart").getChildNodes
    val polyline = (0 until points.getLength).map(points.item).find(_.getNodeName == "polyline").get
    assert(polyline.getAttributes.getNamedItem("points").getNodeValue.split(" ").length == 4, "one point per step")
    assert(byId("epoch-val-loss").getNodeName == "svg")
    val workers = byId("workers").getTextContent
    Seq("1234.5", "12.5%", "25.0%", "37.5%", "50.0%", "3.5", "1.75", "500", "120").foreach(v => assert(workers.contains(v), v))
    val stages = byId("stages").getTextContent
    Seq("compute", "aggregate", "2.25", "4.125", "0.75").foreach(v => assert(stages.contains(v), v))
    val overview = byId("overview").getTextContent
    Seq("0.25", "efficient", "file:/tmp/tb/run").foreach(v => assert(overview.contains(v), v))
    assert(byId("settings").getTextContent.contains("a&b"), "escaped text parses back")
    assert(!html.contains("<script") && !html.toLowerCase.contains("http") && !html.contains("url("), "nothing external")
  }

  test("a long run's loss chart keeps each stretch's lowest and highest loss, in a bounded number of points") {
    val losses = Array.tabulate(100000)(i => if (i == 54321) 9.0 else 1.0 + (i % 7) * 0.01)
    val html = TrainingReportHtml.render("long", summary.copy(lossHistory = losses, steps = losses.length), Nil)
    val points = "points=\"([^\"]*)\"".r.findFirstMatchIn(html).get.group(1).split(" ")
    assert(points.length <= 2000 && points.length >= 1000, points.length)
    assert(points.map(_.split(",")(1).toDouble).min == 10.0, "the spike (highest loss) is drawn at the top")
  }
}
