package ai.bios.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one jar to ship: {@code spark-submit --jars bios-spark-<version>-assembly.jar} runs a Bios job
 * on a JVM that has only Spark's own classpath (no Bios, no TensorFlow), as on a user's cluster.
 */
class SparkSubmitAssemblyTest {

  @Test
  void theAdultPipelineRunsThroughSparkSubmitWithOnlyTheAssemblyJarAdded(@TempDir Path tmp) throws Exception {
    Path assembly;
    try (Stream<Path> jars = Files.list(Paths.get("../bios-spark/target"))) {
      assembly = jars.filter(p -> p.getFileName().toString().endsWith("-assembly.jar")).findFirst()
          .orElseThrow(() -> new AssertionError("no bios-spark assembly jar: run mvn package first"));
    }
    Path app = SparkSubmitter.examplesJar(tmp.resolve("examples.jar"));
    SparkSubmitter.Result run = SparkSubmitter.submit(tmp, 5, List.of(), List.of(
        "--master", "local[2]", "--conf", "spark.ui.enabled=false",
        "--conf", "spark.plugins=ai.bios.spark.BiosPlugin",
        "--jars", assembly.toAbsolutePath().toString(),
        "--class", "ai.bios.examples.AdultPipeline", app.toString(),
        "--data", "data/adult", "--epochs", "3"));
    String tail = run.transcript();
    assertTrue(run.ended(), "spark-submit did not end within 5 minutes:\n" + tail);
    assertEquals(0, run.exit(), "spark-submit failed:\n" + tail);
    String json = run.lastLine();
    assertTrue(json.startsWith("{\"accuracy\":"), "the last line printed is the job's JSON:\n" + tail);
    double accuracy = Double.parseDouble(json.replaceAll(".*\"accuracy\":([0-9.]+).*", "$1"));
    assertTrue(accuracy >= 0.8, json);
    assertTrue(run.stdout().stream().anyMatch(l -> l.startsWith("bios: epoch")), "the plugin's progress line, from the assembly:\n" + tail);
  }
}
