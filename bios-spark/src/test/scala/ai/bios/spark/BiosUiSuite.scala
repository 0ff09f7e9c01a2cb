package ai.bios.spark

import ai.bios.spark.internal.TrainingHooks
import ai.bios.tf.exec.{EpochMetrics, StepListener, StepMetrics, StepTimeline}
import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.Row
import org.apache.spark.sql.types.{DoubleType, StructField, StructType}
import org.json4s._
import org.json4s.jackson.JsonMethods
import org.scalatest.funsuite.AnyFunSuite

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path, Paths}
import java.util.concurrent.{CountDownLatch, TimeUnit}
import scala.concurrent.duration._
import scala.concurrent.{Await, ExecutionContext, Future}

/**
 * The Bios tab of the Spark UI, in a real browser (headless Chromium): during a fit (held at the
 * end of its first epoch by [[UiHooks]]) it shows the fit, a row per worker with its GPU column,
 * the loss curve and validation point as SVG, and the stage timeline; after the fit, that it
 * finished and its final loss. Screenshots stay under bios-spark/target/bios-ui/.
 */
class BiosUiSuite extends AnyFunSuite with LocalSparkWithTestHooks {
  override protected def extraConf: Map[String, String] = Map(
    "spark.ui.enabled" -> "true",
    "spark.ui.port" -> "0",
    "spark.plugins" -> "ai.bios.spark.BiosPlugin",
    "spark.bios.internal.trainingHooks" -> classOf[UiHooks].getName)

  private implicit val formats: Formats = DefaultFormats

  /** The browser, or a failure saying how to install it (CI installs it: see .ci/run). */
  private lazy val chromium: String = Seq("chromium", "chromium-browser", "google-chrome")
    .flatMap(name => sys.env.getOrElse("PATH", "").split(java.io.File.pathSeparator).map(Paths.get(_, name)))
    .find(Files.isExecutable(_)).map(_.toString)
    .getOrElse(fail("BiosUiSuite needs headless Chromium on the PATH to render the Bios tab: install it with " +
      "`sudo apt-get install -y chromium` (Debian/Ubuntu; .ci/run does this on CI)"))

  private val target: Path = Paths.get(getClass.getProtectionDomain.getCodeSource.getLocation.toURI).getParent
  private val shots = target.resolve("bios-ui")

  /** Runs headless Chromium on `url` with `args`; its stdout. */
  private def browse(url: String, args: String*): String = {
    val profile = Files.createTempDirectory("bios-chromium")
    val cmd = Seq(chromium, "--headless", "--disable-gpu", "--no-sandbox", s"--user-data-dir=$profile") ++ args :+ url
    val p = new ProcessBuilder(cmd: _*).redirectError(ProcessBuilder.Redirect.DISCARD).start()
    val out = Future(new String(p.getInputStream.readAllBytes(), StandardCharsets.UTF_8))(ExecutionContext.global)
    assert(p.waitFor(60, TimeUnit.SECONDS), s"chromium did not finish within 60 s: ${cmd.mkString(" ")}")
    assert(p.exitValue() == 0, s"chromium failed (${p.exitValue()}): ${cmd.mkString(" ")}")
    Await.result(out, 10.seconds)
  }

  private def screenshot(url: String, name: String): Path = {
    Files.createDirectories(shots)
    val file = shots.resolve(name)
    Files.deleteIfExists(file)
    browse(url, s"--screenshot=$file", "--window-size=1280,1600")
    assert(Files.size(file) > 0, s"no screenshot at $file")
    println(s"Bios tab screenshot: $file")
    file
  }

  private def json(url: String): JValue =
    JsonMethods.parse(new String(new java.net.URI(url).toURL.openStream().readAllBytes(), StandardCharsets.UTF_8))

  test("the Bios tab shows a running fit live (curves, workers, timeline) and keeps it after it ends") {
    chromium // fail early when the browser is missing
    val base = spark.sparkContext.uiWebUrl.getOrElse(fail("the Spark UI is not running"))
    val page = s"$base/bios/"
    val rnd = new scala.util.Random(3)
    val rows = (0 until 800).map { _ =>
      val x = Array.fill(3)(rnd.nextGaussian())
      Row(Vectors.dense(x), if (x.sum > 0) 1.0 else 0.0)
    }
    val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType)))
    val df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), schema)
    val spec = ModelSpec.builder(3).dense(8, Activation.TANH).dense(2, Activation.NONE).build()
    UiHooks.hold = new CountDownLatch(1)
    val fit = Future(new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(20).setEpochs(3)
      .setValidationFraction(0.2).fit(df))(ExecutionContext.global)
    try {
      // The workers hold at the end of epoch 1, after reporting it: poll until the driver heard both.
      val deadline = System.nanoTime() + 60L * 1000 * 1000 * 1000
      def heard: Option[JValue] = (json(s"${page}json") \ "fits").children.find { f =>
        (f \ "state").extract[String] == "running" && (f \ "step").extract[Long] >= 1 &&
          (f \ "validation").children.nonEmpty && (f \ "ranks").children.size == 2 &&
          (f \ "ranks").children.forall(r => (r \ "recent").children.nonEmpty)
      }
      var running = heard
      while (running.isEmpty && System.nanoTime() < deadline && !fit.isCompleted) {
        Thread.onSpinWait()
        running = heard
      }
      val live = running.getOrElse(fail(s"no running fit with both workers' reports in ${json(s"${page}json")}"))
      val run = (live \ "run").extract[String]
      val dom = browse(page, "--dump-dom")
      screenshot(page, "bios-tab-running.png")
      Files.writeString(shots.resolve("bios-tab-running.html"), dom)
      assert("""<title>[^<]* - Bios</title>""".r.findFirstIn(dom).isDefined, "the page has the tab's title")
      assert("""<li class="nav-item active">\s*<a class="nav-link" href="[^"]*/bios/">Bios</a>""".r
        .findFirstIn(dom).isDefined, "Spark's tab bar shows the Bios tab, active")
      assert(dom.contains(run), "the page names the fit")
      assert(dom.contains("data-state=\"running\""), "the fit shows as running")
      for (rank <- 0 to 1) assert(dom.contains(s"""<tr class="bios-worker" data-rank="$rank">"""), s"a row for rank $rank")
      assert(dom.contains("<th>GPU</th>"), "the worker table has the GPU column")
      assert("""<svg id="bios-loss"[^>]*>""".r.findFirstIn(dom).isDefined, "the loss chart is an inline SVG")
      assert("""<path class="bios-loss-path" d="M[0-9.]+,[0-9.]+""".r.findFirstIn(dom).isDefined,
        "the loss curve is drawn")
      assert(dom.contains("data-name=\"val_loss\""), "the validation loss of epoch 1 is drawn")
      assert(dom.contains("class=\"bios-timeline\" data-rank=\"1\""), "each worker has a stage timeline")
      assert(dom.contains("location.reload"), "the page reloads itself while the fit runs")
    } finally UiHooks.hold.countDown()
    val model = Await.result(fit, 120.seconds)
    val after = browse(page, "--dump-dom")
    Files.writeString(shots.resolve("bios-tab-finished.html"), after)
    screenshot(page, "bios-tab-finished.png")
    assert(after.contains("data-state=\"finished\""), "the fit shows as finished")
    assert(after.contains(f"finished, final loss ${model.summary.finalLoss}%.4f"), "with its final loss")
    assert(!after.contains("location.reload"), "no more reloads once no fit runs")
    val done = (json(s"${page}json") \ "fits").children.head
    assert((done \ "finalLoss").extract[Double] == model.summary.finalLoss)
    assert((done \ "ranks").children.map(r => (r \ "prefetchDepth")).forall(_ != JNull),
      "after the fit the workers' summaries fill the table")
  }
}

/** Holds every worker at the end of its first epoch until the test releases [[UiHooks.hold]] (at most a minute). */
final class UiHooks extends TrainingHooks {
  override def listener(rank: Int, stageAttempt: Int, inner: StepListener): StepListener = new StepListener {
    override def onTimeline(t: StepTimeline): Unit = inner.onTimeline(t)
    override def onStep(m: StepMetrics): Unit = inner.onStep(m)
    override def onCheckpoint(step: Long): Unit = inner.onCheckpoint(step)
    override def onEpoch(e: EpochMetrics): Unit = {
      inner.onEpoch(e)
      if (e.epoch == 0) UiHooks.hold.await(60, TimeUnit.SECONDS)
    }
  }
}

object UiHooks {
  @volatile var hold = new CountDownLatch(0)
}
