package ai.bios.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code examples/bin/cluster-example}, run as a user types it (without its build step: the tests
 * run after {@code mvn package}): a real Spark standalone cluster from the build (a Master and two
 * Workers, one fake GPU each), the Adult pipeline submitted to it with the assembly jar, and no
 * Master, Worker, executor or driver JVM of the run left afterwards, whether the job succeeds or
 * fails. Each run's logs stay in {@code examples/target/cluster-example-runs}.
 */
class ClusterExampleTest {
  private static final Path ROOT = Paths.get("..").toAbsolutePath().normalize();
  private static final Path RUNS = Paths.get("target", "cluster-example-runs").toAbsolutePath();
  private static final long TIMEOUT_MINUTES = 5;

  @BeforeAll
  static void theBuildIsThere() throws IOException {
    assertTrue(Files.isRegularFile(ROOT.resolve("bios-spark/target/bios-spark-0.1.0-SNAPSHOT-assembly.jar")),
        "no bios-spark assembly jar: run mvn package first");
    assertTrue(Files.isRegularFile(ROOT.resolve("examples/target/launcher/classpath")),
        "no examples/target/launcher/classpath: run mvn package first");
    Files.createDirectories(RUNS);
  }

  @Test
  void theAdultPipelineTrainsOnTwoWorkersEachWithItsOwnGpuAndTheClusterIsStoppedAfter() throws Exception {
    Run run = Run.of("AdultPipeline", "--workers", "2", "--epochs", "2");

    assertEquals(0, run.exit, "cluster-example failed:\n" + run.transcript());
    String json = run.stdout.get(run.stdout.size() - 1);
    assertTrue(json.startsWith("{\"accuracy\":"), "the last line printed is the job's JSON:\n" + run.transcript());
    double accuracy = Double.parseDouble(field(json, "\"accuracy\":([0-9.]+)"));
    assertTrue(accuracy > 0.8, json);
    assertTrue(field(json, "\"master\":\"([^\"]*)\"").startsWith("spark://"), "ran on the standalone Master: " + json);
    List<String> gpus = Arrays.stream(field(json, "\"gpus\":\\[([^\\]]*)\\]").split(","))
        .map(g -> g.replace("\"", "")).toList();
    assertEquals(2, gpus.size(), "one GPU per training worker: " + json);
    assertEquals(Set.of("0", "1"), Set.copyOf(gpus), "each worker got its own Worker's GPU: " + json);
    run.assertNothingLeft();
  }

  @Test
  void aJobThatFailsExitsNonZeroNamingTheCauseAndStillStopsTheCluster() throws Exception {
    Run run = Run.of("AdultPipeline", "--workers", "2", "--epochs", "0");

    assertNotEquals(0, run.exit, "epochs=0 must fail the job:\n" + run.transcript());
    assertTrue(run.stderr.stream().anyMatch(l -> l.contains("epochs")), "the error names the setting:\n" + run.transcript());
    assertTrue(run.stderr.stream().anyMatch(l -> l.contains("Master and Workers stopped")),
        "the cluster is stopped on the failure path too:\n" + run.transcript());
    run.assertNothingLeft();
  }

  private static String field(String json, String regex) {
    Matcher m = Pattern.compile(regex).matcher(json);
    assertTrue(m.find(), "no " + regex + " in " + json);
    return m.group(1);
  }

  /** One run of the script, ended: its exit status and output, and the marker on its JVMs. */
  private record Run(String id, int exit, List<String> stdout, List<String> stderr) {

    static Run of(String... args) throws Exception {
      String id = "cluster-example-test-" + UUID.randomUUID();
      List<String> cmd = new ArrayList<>(List.of("examples/bin/cluster-example"));
      cmd.addAll(List.of(args));
      Path out = RUNS.resolve(id + ".stdout");
      Path err = RUNS.resolve(id + ".stderr");
      ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile())
          .redirectOutput(out.toFile()).redirectError(err.toFile());
      pb.environment().put("BIOS_NO_BUILD", "1");
      pb.environment().put("BIOS_CLUSTER_ID", id);
      pb.environment().put("BIOS_CLUSTER_DIR", RUNS.toString());
      Process p = pb.start();
      if (!p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
        // TERM: the script's trap stops the JVMs it started; then whatever still carries the marker.
        p.destroy();
        p.waitFor(1, TimeUnit.MINUTES);
        new ProcessBuilder("pkill", "-KILL", "-f", "bios.cluster=" + id).start().waitFor();
        p.destroyForcibly().waitFor();
        Run ended = new Run(id, -1, read(out), read(err));
        throw new AssertionError("cluster-example did not end within " + TIMEOUT_MINUTES + " minutes:\n" + ended.transcript());
      }
      return new Run(id, p.exitValue(), read(out), read(err));
    }

    /** No process of this run (Master, Workers, executors, driver) is still running. */
    void assertNothingLeft() throws Exception {
      Process pgrep = new ProcessBuilder("pgrep", "-af", "bios.cluster=" + id).redirectErrorStream(true).start();
      String found = new String(pgrep.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      pgrep.waitFor();
      assertEquals("", found, "JVMs of the run still running after cluster-example ended");
    }

    String transcript() {
      return String.join("\n", stdout) + "\n--- stderr ---\n"
          + stderr.subList(Math.max(0, stderr.size() - 60), stderr.size()).stream().collect(Collectors.joining("\n"));
    }

    private static List<String> read(Path file) throws IOException {
      return Files.readAllLines(file, StandardCharsets.UTF_8);
    }
  }
}
