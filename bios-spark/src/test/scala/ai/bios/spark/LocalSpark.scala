package ai.bios.spark

import org.apache.spark.sql.SparkSession
import org.scalatest.{BeforeAndAfterAll, Suite}

/** A `local[2]` session for a suite, stopped after it. */
trait LocalSpark extends BeforeAndAfterAll { self: Suite =>
  @transient protected var spark: SparkSession = _

  protected def master: String = "local[2]"

  protected def extraConf: Map[String, String] = Map.empty

  override protected def beforeAll(): Unit = {
    super.beforeAll()
    val b = SparkSession.builder().master(master).appName(getClass.getSimpleName)
      .config("spark.ui.enabled", "false")
      .config("spark.sql.shuffle.partitions", "4")
      .config("spark.stage.maxConsecutiveAttempts", "2")
      .config("spark.barrier.sync.timeout", "60s")
    extraConf.foreach { case (k, v) => b.config(k, v) }
    spark = b.getOrCreate()
  }

  override protected def afterAll(): Unit = {
    try {
      if (spark != null) spark.stop()
      SparkSession.clearActiveSession()
      SparkSession.clearDefaultSession()
    } finally super.afterAll()
  }
}

/**
 * A [[LocalSpark]] session with Spark's `spark.testing` property set while it runs, which is what
 * lets `spark.bios.internal.trainingHooks` load a test-only hook (FaultHooks, UiHooks).
 */
trait LocalSparkWithTestHooks extends LocalSpark { self: Suite =>
  override protected def beforeAll(): Unit = {
    System.setProperty("spark.testing", "true")
    super.beforeAll()
  }

  override protected def afterAll(): Unit =
    try super.afterAll() finally System.clearProperty("spark.testing")
}
