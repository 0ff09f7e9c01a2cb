package ai.bios.spark

import ai.bios.tf.model.{Activation, ModelSpec}
import org.apache.spark.ml.linalg.{SQLDataTypes, Vectors}
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.types.{DoubleType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.{Files, Path}

/**
 * Real executor JVMs: one is killed with SIGKILL mid-training. Spark starts a new executor, retries
 * the barrier stage, every worker resumes from the newest checkpoint, and the model ends bitwise
 * equal to a run that was never interrupted.
 */
class ExecutorKillSuite extends AnyFunSuite with LocalClusterSpark {
  private lazy val scratch: Path = Files.createTempDirectory("bios-kill")

  override protected def clusterConf: Map[String, String] = Map("spark.stage.maxConsecutiveAttempts" -> "3") ++
    FaultHooks.Conf

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

  private def data: DataFrame = {
    val rnd = new scala.util.Random(3)
    val rows = (0 until 960).map { _ =>
      val x = Array.fill(4)(rnd.nextGaussian())
      Row(Vectors.dense(x), if (x(0) + x(1) - x(3) > 0) 1.0 else 0.0)
    }
    val schema = StructType(Seq(StructField("features", SQLDataTypes.VectorType), StructField("label", DoubleType)))
    spark.createDataFrame(spark.sparkContext.parallelize(rows, 4), schema)
  }

  private def estimator(dir: String) = new BiosEstimator()
    .setModelSpec(ModelSpec.builder(4).dense(8, Activation.TANH).dense(2, Activation.NONE).seed(2).build())
    .setNumWorkers(2).setBatchSize(32).setEpochs(2).setLearningRate(0.01).setSeed(5)
    // SIMPLE: the fault hook runs on the training loop, so rank 1 stops exactly at step 17 (in
    // EFFICIENT it runs on the reporter thread and the loop may run on; StageRetrySuite covers both).
    .setExecutionMode("simple")
    .setCheckpointDir(dir).setCheckpointInterval(5)

  test("SIGKILL of an executor mid-training: a new executor joins, the stage resumes, the result is bitwise equal") {
    val df = data.cache()
    df.count()
    val clean = estimator(scratch.resolve("clean").toUri.toString).fit(df)

    val pidFile = scratch.resolve("victim.pid")
    val sc = spark.sparkContext
    sc.setLocalProperty(FaultHooks.Property, s"1:17:$pidFile")
    val result = new java.util.concurrent.atomic.AtomicReference[Either[Throwable, BiosModel]]()
    val trainer = new Thread(() => {
      sc.setLocalProperty(FaultHooks.Property, s"1:17:$pidFile")
      result.set(try Right(estimator(scratch.resolve("killed").toUri.toString).fit(df))
      catch { case t: Throwable => Left(t) })
    }, "bios-test-trainer")
    trainer.start()
    // Wait (bounded) for rank 1 to reach step 17 and publish its executor's pid.
    val deadline = System.nanoTime() + 120L * 1000 * 1000 * 1000
    while (!Files.exists(pidFile) && trainer.isAlive && System.nanoTime() < deadline) Thread.onSpinWait()
    assert(Files.exists(pidFile), s"rank 1 never reached step 17: ${result.get()}")
    val pid = Files.readString(pidFile).trim.toLong
    assert(pid != ProcessHandle.current().pid(), "the victim is an executor JVM, not the driver")
    val victim = ProcessHandle.of(pid).orElseThrow()
    assert(victim.destroyForcibly(), "SIGKILL sent")
    trainer.join(300000)
    assert(!trainer.isAlive, "the fit finished")
    sc.setLocalProperty(FaultHooks.Property, null)
    val killed = result.get() match {
      case Right(m) => m
      case Left(t) => fail("the fit did not recover from the lost executor", t)
    }
    assert(killed.summary.workers.forall(_.resumedFrom == 15), killed.summary.workers.map(_.resumedFrom))
    assert(killed.getWeights.sameElements(clean.getWeights), "bitwise equal to the uninterrupted run")
    assert(killed.summary.lossHistory.sameElements(clean.summary.lossHistory))
  }
}
