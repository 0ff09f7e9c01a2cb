package ai.bios.spark

import ai.bios.spark.conf.BiosConf
import org.apache.spark.SparkConf
import org.scalatest.funsuite.AnyFunSuite

import java.nio.file.{Files, Path, Paths}
import scala.jdk.CollectionConverters._

/** The configuration registry: one declaration per key, its reference in docs/ is current, bad values name the key. */
class ConfigurationDocSuite extends AnyFunSuite {

  private val root: Path = Iterator.iterate(Paths.get("").toAbsolutePath)(_.getParent)
    .takeWhile(_ != null).find(p => Files.exists(p.resolve("docs"))).getOrElse(fail("no docs/ above the build dir"))

  test("docs/configuration.md is generated from BiosConf and current") {
    val fresh = BiosConf.markdown
    Files.createDirectories(Paths.get("target"))
    Files.writeString(Paths.get("target", "configuration.md"), fresh)
    val doc = root.resolve("docs/configuration.md")
    assert(Files.exists(doc) && Files.readString(doc) == fresh,
      s"docs/configuration.md is stale: cp bios-spark/target/configuration.md docs/configuration.md")
  }

  test("every spark.bios key in main code, conf and docs is declared in BiosConf") {
    val declared = BiosConf.entries.map(_.key).toSet
    val key = "spark\\.bios\\.[A-Za-z.]+[A-Za-z]".r
    val files = Seq("bios-spark/src/main", "bios-tf/src/main", "examples/src/main", "conf", "README.md")
      .map(root.resolve).filter(Files.exists(_))
      .flatMap(p => Files.walk(p).iterator().asScala.filter(Files.isRegularFile(_)).toSeq)
    val used = files.flatMap(f => key.findAllIn(Files.readString(f)).map(_ -> root.relativize(f))).toSet
    val unknown = used.filterNot { case (k, _) => declared.contains(k) }
    assert(unknown.isEmpty, s"undeclared spark.bios keys (declare them in BiosConf): $unknown")
  }

  test("internal keys stay out of the reference; every public key is in it with its default") {
    val doc = BiosConf.markdown
    BiosConf.entries.foreach { e =>
      assert(doc.contains(s"`${e.key}` | `${e.defaultText}`") != e.internal, e.key)
    }
  }

  test("a bad value fails naming the key, the value and what it must be") {
    val conf = new SparkConf(false).set("spark.bios.cacheMemory", "lots").set("spark.bios.keepCheckpoints", "0")
      .set("spark.bios.collectiveTimeout", "0s")
    val bytes = intercept[IllegalArgumentException](BiosConf.CacheMemory.get(conf))
    assert(bytes.getMessage.contains("spark.bios.cacheMemory") && bytes.getMessage.contains("lots") &&
      bytes.getMessage.contains("size such as"), bytes.getMessage)
    val int = intercept[IllegalArgumentException](BiosConf.KeepCheckpoints.get(conf))
    assert(int.getMessage.contains("spark.bios.keepCheckpoints") && int.getMessage.contains(">= 1"), int.getMessage)
    val time = intercept[IllegalArgumentException](BiosConf.CollectiveTimeout.get(conf))
    assert(time.getMessage.contains("spark.bios.collectiveTimeout") && time.getMessage.contains("> 0"), time.getMessage)
  }

  test("a bare duration is in the unit the key has always used: seconds, or ms for progressInterval") {
    val conf = new SparkConf(false).set("spark.bios.collectiveTimeout", "600").set("spark.bios.progressInterval", "250")
    assert(BiosConf.CollectiveTimeout.get(conf) == java.time.Duration.ofSeconds(600))
    assert(BiosConf.ProgressInterval.get(conf) == java.time.Duration.ofMillis(250))
    assert(BiosConf.CollectiveTimeout.get(new SparkConf(false).set("spark.bios.collectiveTimeout", "2min")) ==
      java.time.Duration.ofMinutes(2))
  }

  test("defaults come from the engine where it has one") {
    assert(BiosConf.InputTimeout.default == ai.bios.tf.exec.TrainingConfig.DEFAULT_INPUT_TIMEOUT)
    assert(BiosConf.PrefetchMemory.default == ai.bios.tf.exec.TrainingConfig.DEFAULT_PREFETCH_MEMORY_BYTES)
    assert(BiosConf.RingChunkSize.default == 4L * ai.bios.tf.collective.RingOptions.DEFAULT_CHUNK_FLOATS)
    assert(new BiosEstimator().getBatchSize == ai.bios.tf.exec.TrainingConfig.builder().build().batchSize())
  }
}
