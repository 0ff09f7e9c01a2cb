package ai.bios.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
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
    Path app = jarOf(Paths.get("target/classes"), tmp.resolve("examples.jar"));
    // Spark's classpath as a cluster has it: everything on this test's classpath but Bios and TensorFlow.
    String sparkOnly = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(e -> !e.contains("bios-tf") && !e.contains("bios-spark") && !e.contains("examples" + File.separator + "target")
            && !e.contains("tensorflow") && !e.contains("javacpp") && !e.contains("ndarray"))
        .collect(Collectors.joining(File.pathSeparator));
    List<String> cmd = new ArrayList<>(List.of(Paths.get(System.getProperty("java.home"), "bin", "java").toString()));
    ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("--add-opens") || a.startsWith("-Djdk.reflect") || a.startsWith("-Dio.netty"))
        .forEach(cmd::add);
    cmd.addAll(List.of("-cp", sparkOnly, "org.apache.spark.deploy.SparkSubmit",
        "--master", "local[2]", "--conf", "spark.ui.enabled=false",
        "--conf", "spark.plugins=ai.bios.spark.BiosPlugin",
        "--jars", assembly.toAbsolutePath().toString(),
        "--class", "ai.bios.examples.AdultPipeline", app.toString(),
        "--data", "data/adult", "--epochs", "3"));
    Path log = tmp.resolve("stdout.log");
    Path err = tmp.resolve("stderr.log");
    Process p = new ProcessBuilder(cmd).redirectOutput(log.toFile()).redirectError(err.toFile()).start();
    boolean ended = p.waitFor(5, TimeUnit.MINUTES);
    if (!ended) {
      p.destroyForcibly();
    }
    List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
    List<String> errors = Files.readAllLines(err, StandardCharsets.UTF_8);
    String tail = String.join("\n", lines) + "\n--- stderr ---\n"
        + String.join("\n", errors.subList(Math.max(0, errors.size() - 40), errors.size()));
    assertTrue(ended, "spark-submit did not end within 5 minutes:\n" + tail);
    assertEquals(0, p.exitValue(), "spark-submit failed:\n" + tail);
    String json = lines.get(lines.size() - 1);
    assertTrue(json.startsWith("{\"accuracy\":"), "the last line printed is the job's JSON:\n" + tail);
    double accuracy = Double.parseDouble(json.replaceAll(".*\"accuracy\":([0-9.]+).*", "$1"));
    assertTrue(accuracy >= 0.8, json);
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("bios: epoch")), "the plugin's progress line, from the assembly:\n" + tail);
  }

  /** A jar of the compiled examples (the application jar a user submits). */
  private static Path jarOf(Path classes, Path jar) throws IOException {
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar)); Stream<Path> files = Files.walk(classes)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace(File.separatorChar, '/')));
        Files.copy(f, (OutputStream) out);
        out.closeEntry();
      }
    }
    return jar;
  }
}
