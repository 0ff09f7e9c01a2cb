package ai.bios.spark

import ai.bios.spark.internal.TrainingHooks
import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.types.{DoubleType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.Files
import scala.jdk.CollectionConverters._

/**
 * A task that fails mid-training: Spark retries the barrier stage, every worker resumes from the
 * newest checkpoint, and the final weights are bitwise those of a run that never failed.
 */
class StageRetrySuite extends AnyFunSuite with LocalSparkWithTestHooks {
  // Short enough that a stalled peer is noticed quickly in the stall test, long for this data.
  override protected def extraConf: Map[String, String] = Map("spark.bios.collectiveTimeout" -> "5s") ++
    FaultHooks.Conf

  private val spec = ModelSpec.builder(5).dense(8, Activation.TANH).dense(2, Activation.NONE).seed(4).build()
  private lazy val scratch = Files.createTempDirectory("bios-retry").toFile

  override protected def afterAll(): Unit =
    try super.afterAll() finally org.apache.commons.io.FileUtils.deleteQuietly(scratch)

  private def data: DataFrame = data(4)

  private def data(partitions: Int): DataFrame = {
    val rnd = new scala.util.Random(9)
    val rows = (0 until 640).map { _ =>
      val x = Array.fill(5)(rnd.nextGaussian())
      Row(Vectors.dense(x), if (x(0) - x(1) + 0.3 * x(2) > 0) 1.0 else 0.0)
    }
    val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType)))
    spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), schema)
  }

  private def fit(mode: String, dir: String, failAt: Option[String], sharding: String = "shuffle"): BiosModel = {
    failAt.foreach(f => spark.sparkContext.setLocalProperty(FaultHooks.Property, f))
    try {
      new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(32).setEpochs(2)
        .setLearningRate(0.01).setExecutionMode(mode).setSeed(1).setSharding(sharding)
        .setCheckpointDir(dir).setCheckpointInterval(5)
        .fit(if (sharding == "direct") data(2) else data)
    } finally spark.sparkContext.setLocalProperty(FaultHooks.Property, null)
  }

  test("sharding=direct: a task failing inside the streamed first epoch reruns its ETL, resumes and ends bitwise equal") {
    val clean = fit("simple", new java.io.File(scratch, "clean-direct").toURI.toString, None, "direct")
    val faulted = fit("simple", new java.io.File(scratch, "faulted-direct").toURI.toString, Some("1:12"), "direct")
    assert(faulted.summary.workers.map(_.resumedFrom).distinct == Seq(10L))
    assert(faulted.getWeights.sameElements(clean.getWeights), "final weights equal the uninterrupted run's")
    assert(faulted.summary.lossHistory.sameElements(clean.summary.lossHistory))
  }

  // 640 rows in global batches of 32: 20 steps per epoch. SIMPLE fails inside the first epoch,
  // which the workers are still streaming in (the retry replays it up to the checkpoint);
  // EFFICIENT fails in the second (the retry reads the whole shard and checks the epoch's length).
  for ((mode, failStep, checkpoints) <- Seq(("simple", 12, Set(10L)), ("efficient", 22, Set(20L, 25L)))) {
    test(s"$mode: a task failing at step $failStep is retried from the step-${checkpoints.min} checkpoint and ends bitwise equal") {
      val clean = fit(mode, new java.io.File(scratch, s"clean-$mode").toURI.toString, None)
      assert(clean.summary.workers.forall(_.resumedFrom == 0))
      val faulted = fit(mode, new java.io.File(scratch, s"faulted-$mode").toURI.toString, Some(s"1:$failStep"))
      // SIMPLE fails right at the step, so the newest checkpoint is the one before it. In EFFICIENT the
      // hook runs on the reporter thread and the loop notices at its next report: it may have passed one more.
      val resumed = faulted.summary.workers.map(_.resumedFrom).distinct
      assert(resumed.size == 1 && checkpoints.contains(resumed.head), s"the retried stage resumed at $resumed")
      assert(faulted.getWeights.sameElements(clean.getWeights), "final weights equal the uninterrupted run's")
      assert(faulted.summary.lossHistory.sameElements(clean.summary.lossHistory))
    }
  }

  test("early stopping: a task failing mid-run is retried and stops at the same epoch with the same history and weights") {
    // minDelta 10 on val_loss: no epoch after the first improves, so patience 2 stops after epoch 2
    // and restores epoch 0's weights; rank 1 fails in epoch 1 (about 15 steps per epoch).
    def run(dir: String, failAt: Option[String]): BiosModel = {
      failAt.foreach(f => spark.sparkContext.setLocalProperty(FaultHooks.Property, f))
      try {
        new BiosEstimator().setModelSpec(spec).setNumWorkers(2).setBatchSize(32).setEpochs(6)
          .setLearningRate(0.01).setExecutionMode("efficient").setSeed(1)
          .setCheckpointDir(dir).setCheckpointInterval(5)
          .setValidationFraction(0.25).setEarlyStoppingPatience(2).setEarlyStoppingMinDelta(10)
          .fit(data)
      } finally spark.sparkContext.setLocalProperty(FaultHooks.Property, null)
    }
    val clean = run(new java.io.File(scratch, "stop-clean").toURI.toString, None)
    val faulted = run(new java.io.File(scratch, "stop-faulted").toURI.toString, Some("1:22"))
    assert(clean.summary.stoppedEarly && clean.summary.epochsRun == 3 && clean.summary.bestEpoch == 0,
      clean.summary.history)
    assert(faulted.summary.workers.map(_.resumedFrom).distinct.forall(_ > 0), "the retry resumed from a checkpoint")
    assert(faulted.summary.history.map(_.withoutTime) == clean.summary.history.map(_.withoutTime))
    assert(faulted.summary.steps == clean.summary.steps && faulted.summary.stoppedEarly)
    assert(faulted.getWeights.sameElements(clean.getWeights), "the best epoch's weights, as uninterrupted")
  }

  test("a rerun with the same checkpointDir continues where the previous fit stopped") {
    val dir = new java.io.File(scratch, "rerun").toURI.toString
    val first = fit("efficient", dir, None)
    val again = fit("efficient", dir, None)
    assert(again.summary.workers.forall(_.resumedFrom == first.summary.steps), "nothing left to train")
    assert(again.getWeights.sameElements(first.getWeights))
  }

  test("a peer that stalls mid-run: the others time out, the stage is retried and ends bitwise equal") {
    val clean = fit("simple", new java.io.File(scratch, "stall-clean").toURI.toString, None)
    val stalled = fit("simple", new java.io.File(scratch, "stalled").toURI.toString, Some("0:12:stall"))
    assert(stalled.summary.workers.forall(_.resumedFrom == 10), stalled.summary.workers.map(_.resumedFrom))
    assert(stalled.getWeights.sameElements(clean.getWeights))
  }

  test("a worker that never reaches the rendezvous: the others give up after spark.bios.rendezvousTimeout; the retry ends bitwise equal") {
    val clean = fit("simple", new java.io.File(scratch, "rendezvous-clean").toURI.toString, None)
    val reasons = Files.createTempDirectory(scratch.toPath, "rendezvous-reasons")
    // Spark's own barrier timeout is 60 s in these suites; Bios's bound is what must end the wait.
    spark.conf.set("spark.bios.rendezvousTimeout", "2s")
    spark.sparkContext.setLocalProperty(FaultHooks.Reasons, reasons.toString)
    val stalled = try fit("simple", new java.io.File(scratch, "rendezvous").toURI.toString, Some("1:@rendezvous:stall"))
    finally {
      spark.conf.unset("spark.bios.rendezvousTimeout")
      spark.sparkContext.setLocalProperty(FaultHooks.Reasons, null)
    }
    val why = Files.readString(reasons.resolve("attempt0-rank0.txt"))
    assert(why.contains("reached the rendezvous within") && why.contains("spark.bios.rendezvousTimeout"), why)
    assert(stalled.getWeights.sameElements(clean.getWeights))
  }

  test("a checkpointDir that cannot be written, or holds another model's run, fails before training") {
    val file = new java.io.File(scratch, "a-file")
    Files.writeString(file.toPath, "x")
    val unwritable = intercept[IllegalArgumentException](
      fit("simple", new java.io.File(file, "sub").toURI.toString, None))
    assert(unwritable.getMessage.contains("checkpointDir") && unwritable.getMessage.contains("not writable"),
      unwritable.getMessage)
    // A name node that is not there: an error in seconds, not Hadoop's minutes of connection retries.
    val unreachable = intercept[IllegalArgumentException](fit("simple", "hdfs://127.0.0.1:1/ckpt", None))
    assert(unreachable.getMessage.contains("hdfs://127.0.0.1:1/ckpt") && unreachable.getMessage.contains("not reachable"),
      unreachable.getMessage)
    val dir = new java.io.File(scratch, "other-model").toURI.toString
    fit("simple", dir, None)
    val other = ModelSpec.builder(5).dense(3, Activation.RELU).dense(2, Activation.NONE).seed(4).build()
    val e = intercept[IllegalArgumentException](new BiosEstimator().setModelSpec(other).setNumWorkers(2)
      .setBatchSize(32).setSeed(1).setCheckpointDir(dir).setCheckpointInterval(5).fit(data))
    assert(e.getMessage.contains("different run") && e.getMessage.contains("model spec"), e.getMessage)
  }

  test("no Bios thread outlives the failed, retried and finished fits of this suite") {
    val left = Thread.getAllStackTraces.keySet().asScala.filter(t => t.isAlive && t.getName.startsWith("bios-"))
    assert(left.isEmpty, left.map(_.getName))
  }

  test("the fault hook is ignored outside Spark's tests") {
    System.clearProperty("spark.testing")
    try {
      assert(!sys.env.contains("SPARK_TESTING"), "precondition: this JVM is not marked as a Spark test by its environment")
      spark.sparkContext.setLocalProperty(FaultHooks.Property, "1:3")
      try assert(TrainingHooks.load(spark) eq TrainingHooks.None)
      finally spark.sparkContext.setLocalProperty(FaultHooks.Property, null)
    } finally System.setProperty("spark.testing", "true")
  }
}
