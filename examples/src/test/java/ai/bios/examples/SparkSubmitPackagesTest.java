package ai.bios.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * After {@code mvn install}, {@code spark-submit --packages ai.bios:bios-spark:<version>} runs a Bios job
 * on a JVM that has only Spark's own classpath: Spark's Ivy reads our poms (the parent's properties
 * and dependency management, bios-tf's native-classifier dependency, bios-spark's exclusions) and
 * pulls Bios, TensorFlow Java and its CPU native library, and none of Spark, Scala, Hadoop, Jackson,
 * SLF4J or protobuf (the cluster's Spark has them).
 *
 * <p>{@code mvn install} is simulated without touching {@code ~/.m2}: the SparkSubmit JVM gets a
 * {@code user.home} whose {@code .m2/repository} is the local repository this build filled (every
 * entry linked) with this build's Bios installed in it as {@code mvn install} lays it out (the poms
 * as written, the jars from the modules' target dirs). So Spark's default {@code local-m2-cache}
 * resolver finds this build's Bios, never one installed there earlier, and TensorFlow where Maven put
 * it. Ivy's cache and the retrieved jars stay in the temp dir ({@code spark.jars.ivy}).
 */
class SparkSubmitPackagesTest {
  private static final Path ROOT = Paths.get("..").toAbsolutePath().normalize();
  private static final String VERSION = System.getProperty("bios.version", "0.1.0-SNAPSHOT");

  @Test
  void theAdultPipelineRunsThroughSparkSubmitWithBiosSparkFromPackages(@TempDir Path tmp) throws Exception {
    Path home = tmp.resolve("home");
    Path repo = localRepositoryView(home.resolve(".m2/repository"));
    install(repo, "bios-parent", ROOT.resolve("pom.xml"), null);
    Path tfJar = install(repo, "bios-tf", ROOT.resolve("bios-tf/pom.xml"), ROOT.resolve("bios-tf/target/bios-tf-" + VERSION + ".jar"));
    Path sparkJar = install(repo, "bios-spark", ROOT.resolve("bios-spark/pom.xml"), ROOT.resolve("bios-spark/target/bios-spark-" + VERSION + ".jar"));
    Path ivy = tmp.resolve("ivy");
    Path app = SparkSubmitter.examplesJar(tmp.resolve("examples.jar"));

    SparkSubmitter.Result run = SparkSubmitter.submit(tmp, 5,
        // JavaCPP caches TensorFlow's extracted native library under user.home: keep the real one.
        List.of("-Duser.home=" + home, "-Dorg.bytedeco.javacpp.cachedir="
            + Paths.get(System.getProperty("user.home"), ".javacpp", "cache")),
        List.of("--master", "local[2]", "--conf", "spark.ui.enabled=false",
            "--conf", "spark.plugins=ai.bios.spark.BiosPlugin",
            "--packages", "ai.bios:bios-spark:" + VERSION,
            "--conf", "spark.jars.ivy=" + ivy,
            "--class", "ai.bios.examples.AdultPipeline", app.toString(),
            "--data", "data/adult", "--epochs", "2"));

    String tail = run.transcript();
    assertTrue(run.ended(), "spark-submit did not end within 5 minutes:\n" + tail);
    assertEquals(0, run.exit(), "spark-submit failed:\n" + tail);
    String json = run.lastLine();
    assertTrue(json.startsWith("{\"accuracy\":"), "the last line printed is the job's JSON:\n" + tail);
    double accuracy = Double.parseDouble(json.replaceAll(".*\"accuracy\":([0-9.]+).*", "$1"));
    assertTrue(accuracy >= 0.8, json);
    assertTrue(run.stdout().stream().anyMatch(l -> l.startsWith("bios: epoch")), "the plugin's progress line:\n" + tail);

    // What --packages put on the job's classpath: Spark retrieves it into <spark.jars.ivy>/jars.
    Set<String> pulled;
    try (Stream<Path> jars = Files.list(ivy.resolve("jars"))) {
      pulled = jars.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    }
    for (String expected : List.of("ai.bios_bios-spark-" + VERSION + ".jar", "ai.bios_bios-tf-" + VERSION + ".jar",
        "org.tensorflow_tensorflow-core-api-", "org.tensorflow_tensorflow-framework-", "org.tensorflow_ndarray-",
        "org.bytedeco_javacpp-", "org.tensorflow_tensorflow-core-native-1.1.0.jar",
        "org.tensorflow_tensorflow-core-native-1.1.0-linux-x86_64.jar")) {
      assertTrue(pulled.stream().anyMatch(j -> j.startsWith(expected)), expected + "* is pulled; pulled: " + pulled);
    }
    assertEquals(8, pulled.size(), "Bios (2), TensorFlow Java (4 with the native library), ndarray, javacpp and nothing else; pulled: " + pulled);
    // This build's jars, not a Bios installed earlier.
    assertEquals(-1, Files.mismatch(ivy.resolve("jars/ai.bios_bios-spark-" + VERSION + ".jar"), sparkJar), "bios-spark is this build's");
    assertEquals(-1, Files.mismatch(ivy.resolve("jars/ai.bios_bios-tf-" + VERSION + ".jar"), tfJar), "bios-tf is this build's");
  }

  /**
   * {@code view} made a copy of the local repository this build resolved TensorFlow from, each entry
   * linked, but without any {@code ai/bios}.
   */
  private static Path localRepositoryView(Path view) throws IOException {
    Path tfApi = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator)).map(Paths::get)
        .filter(p -> p.getFileName().toString().startsWith("tensorflow-core-api-")).findFirst()
        .orElseThrow(() -> new AssertionError("tensorflow-core-api is on the test classpath"));
    // <repo>/org/tensorflow/tensorflow-core-api/<version>/tensorflow-core-api-<version>.jar
    Path real = tfApi.toAbsolutePath().getParent().getParent().getParent().getParent().getParent();
    assertTrue(Files.isDirectory(real.resolve("org/tensorflow")), "the local repository is " + real);
    linkAllBut(real, view, "ai");
    linkAllBut(real.resolve("ai"), view.resolve("ai"), "bios");
    return view;
  }

  private static void linkAllBut(Path from, Path to, String except) throws IOException {
    Files.createDirectories(to);
    if (!Files.isDirectory(from)) {
      return;
    }
    try (Stream<Path> entries = Files.list(from)) {
      for (Path e : entries.filter(e -> !e.getFileName().toString().equals(except)).toList()) {
        Files.createSymbolicLink(to.resolve(e.getFileName().toString()), e);
      }
    }
  }

  /** Copies a module's pom (as written) and jar where {@code mvn install} puts them; returns the jar. */
  private static Path install(Path repo, String artifactId, Path pom, Path jar) throws IOException {
    Path dir = Files.createDirectories(repo.resolve("ai/bios/" + artifactId + "/" + VERSION));
    Files.copy(pom, dir.resolve(artifactId + "-" + VERSION + ".pom"));
    if (jar != null) {
      assertTrue(Files.isRegularFile(jar), "no " + jar + ": run mvn package first");
      Files.copy(jar, dir.resolve(artifactId + "-" + VERSION + ".jar"));
    }
    return jar;
  }
}
