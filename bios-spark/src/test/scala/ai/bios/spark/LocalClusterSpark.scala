package ai.bios.spark

import org.scalatest.Suite

import java.lang.management.ManagementFactory
import scala.jdk.CollectionConverters._

/**
 * `local-cluster[2,1,1024]`: two workers, each with one real executor JVM, started from the test's
 * own classpath (no Spark distribution), with the JVM flags Spark needs on Java 17.
 */
trait LocalClusterSpark extends LocalSpark { self: Suite =>
  override protected def master: String = "local-cluster[2,1,1024]"

  override protected def extraConf: Map[String, String] = {
    val jvmFlags = ManagementFactory.getRuntimeMXBean.getInputArguments.asScala
      .filter(a => a.startsWith("--add-opens") || a.startsWith("-XX:+IgnoreUnrecognized") || a.startsWith("-Dio.netty")
        || a.startsWith("-Djdk.reflect"))
      .mkString(" ")
    Map(
      "spark.executorEnv.SPARK_SCALA_VERSION" -> "2.13",
      "spark.executorEnv.SPARK_TESTING" -> "1",
      "spark.executorEnv.SPARK_DIST_CLASSPATH" -> System.getProperty("java.class.path"),
      "spark.executor.extraJavaOptions" -> jvmFlags,
      "spark.scheduler.barrier.maxConcurrentTasksCheck.interval" -> "1s",
      "spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures" -> "60",
      "spark.executor.memory" -> "1g") ++ clusterConf
  }

  /** Settings the suite adds to the cluster's. */
  protected def clusterConf: Map[String, String] = Map.empty
}
