package ai.bios.spark

import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.types.{DoubleType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.{Files, Path}
import scala.jdk.CollectionConverters._

/**
 * Real executor JVMs: one is killed with SIGKILL mid-training. Spark starts a new executor, retries
 * the barrier stage, every worker resumes from the newest checkpoint, and the model ends bitwise
 * equal to a run that was never interrupted.
 */
class ExecutorKillSuite extends AnyFunSuite with LocalClusterSpark {
  private lazy val scratch: Path = Files.createTempDirectory("bios-kill")

  override protected def clusterConf: Map[String, String] = Map("spark.stage.maxConsecutiveAttempts" -> "3",
    "spark.bios.collectiveTimeout" -> "10min", "spark.bios.inputTimeout" -> "10min") ++ FaultHooks.Conf

  override protected def beforeAll(): Unit = {
    super.beforeAll()
    // The driver side of the test-only fault hook; set after the cluster is up (Spark's Worker
    // expects a Spark distribution when it sees spark.testing).
    System.setProperty("spark.testing", "true")
  }

  override protected def afterAll(): Unit = {
    try super.afterAll()
    finally {
      System.clearProperty("spark.testing")
      org.apache.commons.io.FileUtils.deleteQuietly(scratch.toFile)
    }
  }

  private def data: DataFrame = data(4)

  private def data(partitions: Int): DataFrame = {
    val rnd = new scala.util.Random(3)
    val rows = (0 until 960).map { _ =>
      val x = Array.fill(4)(rnd.nextGaussian())
      Row(Vectors.dense(x), if (x(0) + x(1) - x(3) > 0) 1.0 else 0.0)
    }
    val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType)))
    spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), schema)
  }

  private def estimator(dir: String, sharding: String = "shuffle") = new BiosEstimator().setSharding(sharding)
    .setModelSpec(ModelSpec.builder(4).dense(8, Activation.TANH).dense(2, Activation.NONE).seed(2).build())
    .setNumWorkers(2).setBatchSize(32).setEpochs(2).setLearningRate(0.01).setSeed(5)
    // SIMPLE: the fault hook runs on the training loop, so rank 1 stops exactly at step 17 (in
    // EFFICIENT it runs on the reporter thread and the loop may run on; StageRetrySuite covers both).
    .setExecutionMode("simple")
    .setCheckpointDir(dir).setCheckpointInterval(5)

  private lazy val df: DataFrame = {
    val d = data.cache()
    d.count()
    d
  }
  private lazy val clean: BiosModel = estimator(scratch.resolve("clean").toUri.toString).fit(df)
  // sharding=direct: input partition i feeds worker i, so its lineage reruns inside the retried stage.
  private lazy val directDf: DataFrame = data(2)
  private lazy val cleanDirect: BiosModel =
    estimator(scratch.resolve("clean-direct").toUri.toString, "direct").fit(directDf)

  /** When each training stage attempt was submitted (nanoTime), to measure how soon a retry starts. */
  private val attemptsSubmitted = new java.util.concurrent.ConcurrentLinkedQueue[(Int, Long)]()
  private lazy val stageListener = {
    val l = new org.apache.spark.scheduler.SparkListener {
      override def onStageSubmitted(e: org.apache.spark.scheduler.SparkListenerStageSubmitted): Unit =
        if (e.stageInfo.attemptNumber() > 0) attemptsSubmitted.add(e.stageInfo.attemptNumber() -> System.nanoTime())
    }
    spark.sparkContext.addSparkListener(l)
    l
  }

  /**
   * Fits with `fault` (`<victim rank>:<where>`; see [[FaultHooks]]): when the victim gets there it
   * publishes its executor's pid and holds; the test SIGKILLs that executor. Returns the model and
   * how each task of the first attempt ended.
   */
  private def fitKilling(name: String, fault: String, sharding: String = "shuffle"): (BiosModel, Map[Int, String]) = {
    stageListener
    attemptsSubmitted.clear()
    val pidFile = scratch.resolve(s"$name.pid")
    val reasons = Files.createDirectories(scratch.resolve(s"$name-reasons"))
    val sc = spark.sparkContext
    val result = new java.util.concurrent.atomic.AtomicReference[Either[Throwable, BiosModel]]()
    val trainer = new Thread(() => {
      sc.setLocalProperty(FaultHooks.Property, s"$fault:$pidFile")
      sc.setLocalProperty(FaultHooks.Reasons, reasons.toString)
      val input = if (sharding == "direct") directDf else df
      result.set(try Right(estimator(scratch.resolve(name).toUri.toString, sharding).fit(input))
      catch { case t: Throwable => Left(t) })
    }, "bios-test-trainer")
    trainer.start()
    // Wait (bounded) for the victim to get there and publish its executor's pid.
    val deadline = System.nanoTime() + 120L * 1000 * 1000 * 1000
    while (!Files.exists(pidFile) && trainer.isAlive && System.nanoTime() < deadline) Thread.onSpinWait()
    assert(Files.exists(pidFile), s"the victim never reached $fault: ${result.get()}")
    val pid = Files.readString(pidFile).trim.toLong
    assert(pid != ProcessHandle.current().pid(), "the victim is an executor JVM, not the driver")
    val victim = ProcessHandle.of(pid).orElseThrow()
    val t0 = System.nanoTime()
    assert(victim.destroyForcibly(), "SIGKILL sent")
    trainer.join(300000)
    assert(!trainer.isAlive, "the fit finished")
    val model = result.get() match {
      case Right(m) => m
      case Left(t) => fail(s"the fit did not recover from the lost executor ($fault)", t)
    }
    val ended = (0 until 2).flatMap { r =>
      val f = reasons.resolve(s"attempt0-rank$r.txt")
      if (Files.exists(f)) Some(r -> Files.readString(f)) else None
    }.toMap
    // Measured, not asserted: how soon the retried attempt was submitted, and when the fit ended.
    val retry = Option(attemptsSubmitted.peek()).map { case (_, at) => f"${(at - t0) / 1e9}%.1f s" }.getOrElse("-")
    info(f"$fault ($sharding): retry submitted $retry and the fit ended ${(System.nanoTime() - t0) / 1e9}%.1f s after " +
      "the SIGKILL; survivors: " +
      ended.map { case (r, why) => s"rank $r: ${why.linesIterator.next()}" }.mkString("; "))
    (model, ended)
  }

  /** A survivor that waited for a timeout says so; one that saw the kill or the dead peer does not. */
  private def assertSawTheLoss(fault: String, ended: Map[Int, String], survivor: Int, mayFinish: Boolean): Unit = {
    val why = ended.getOrElse(survivor, fail(s"$fault: rank $survivor's first attempt recorded no end"))
    val timedOut = "(?is).*(timed out|within \\d|has not (taken|finished)|finished no step).*".r
    assert(!timedOut.matches(why), s"$fault: rank $survivor ended by a timeout, not by the loss:\n$why")
    if (!mayFinish) {
      assert(why != "ok", s"$fault: rank $survivor finished its first attempt although its peer died")
    }
  }

  test("SIGKILL of an executor mid-training: a new executor joins, the stage resumes, the result is bitwise equal") {
    val (killed, _) = fitKilling("step17", "1:17")
    assert(killed.summary.workers.forall(_.resumedFrom == 15), killed.summary.workers.map(_.resumedFrom))
    assert(killed.getWeights.sameElements(clean.getWeights), "bitwise equal to the uninterrupted run")
    assert(killed.summary.lossHistory.sameElements(clean.summary.lossHistory))
  }

  // collectiveTimeout and inputTimeout are 10 minutes here: a survivor that noticed the loss only
  // by a timeout would record it (and hold this suite for 10 minutes).
  private val phases = Seq(
    ("before the rendezvous", "1:@rendezvous", 0, false),
    ("after the rendezvous, while the ring connects", "1:@connect", 0, false),
    ("inside the streamed first epoch (step 3)", "1:3", 0, false),
    ("right after the writer's step-10 checkpoint", "0:ckpt10", 1, false),
    ("after training, before the result is returned", "1:@trained", 0, true))
  private val random = new scala.util.Random(11)
  private val randomSteps = Seq.fill(2)(1 + random.nextInt(58)).zipWithIndex.map { case (step, i) =>
    (s"at a random step ($step)", s"${i % 2}:$step", 1 - i % 2, false)
  }

  for (((phase, fault, survivor, mayFinish), i) <- (phases ++ randomSteps).zipWithIndex) {
    test(s"an executor lost $phase: the survivor stops on the loss, not a timeout; the retry ends bitwise equal") {
      val (killed, ended) = fitKilling(s"case$i", fault)
      assertSawTheLoss(fault, ended, survivor, mayFinish)
      assert(killed.getWeights.sameElements(clean.getWeights), "bitwise equal to the uninterrupted run")
      assert(killed.summary.lossHistory.sameElements(clean.summary.lossHistory))
    }
  }

  for ((phase, fault, survivor) <- Seq(("inside the streamed first epoch (step 3)", "1:3", 0),
      ("at a random step (" + (1 + new scala.util.Random(12).nextInt(58)) + ")",
        "0:" + (1 + new scala.util.Random(12).nextInt(58)), 1))) {
    test(s"sharding=direct: an executor lost $phase: the survivor stops on the loss; the retry reruns the ETL, ends bitwise equal") {
      val (killed, ended) = fitKilling(s"direct-${fault.replace(':', '-')}", fault, "direct")
      assertSawTheLoss(fault, ended, survivor, mayFinish = false)
      assert(killed.getWeights.sameElements(cleanDirect.getWeights), "bitwise equal to the uninterrupted run")
      assert(killed.summary.lossHistory.sameElements(cleanDirect.summary.lossHistory))
    }
  }

  test("no Bios thread outlives the killed, retried and finished fits on the driver") {
    val left = Thread.getAllStackTraces.keySet().asScala.filter(t => t.isAlive && t.getName.startsWith("bios-rank"))
    assert(left.isEmpty, left.map(_.getName))
  }
}
