package ai.bios.examples;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Runs {@code org.apache.spark.deploy.SparkSubmit} (what {@code spark-submit} runs) in a child JVM that
 * has only Spark's own classpath, as a user's cluster has it: this test JVM's classpath without Bios,
 * TensorFlow and the examples. Whatever Bios the job uses comes from the submit arguments.
 */
final class SparkSubmitter {
  private SparkSubmitter() {}

  /** What a submit printed and how it ended. */
  record Result(boolean ended, int exit, List<String> stdout, List<String> stderr) {
    /** Stdout and the last 40 lines of stderr, for assertion messages. */
    String transcript() {
      return String.join("\n", stdout) + "\n--- stderr ---\n"
          + String.join("\n", stderr.subList(Math.max(0, stderr.size() - 40), stderr.size()));
    }

    /** The last line printed (the examples print their JSON last). */
    String lastLine() {
      return stdout.isEmpty() ? "" : stdout.get(stdout.size() - 1);
    }
  }

  /**
   * Runs SparkSubmit with {@code args} (and {@code jvmOptions} for its JVM), its output kept in
   * {@code dir}; waits at most {@code minutes}.
   */
  static Result submit(Path dir, long minutes, List<String> jvmOptions, List<String> args)
      throws IOException, InterruptedException {
    String sparkOnly = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(e -> !e.contains("bios-tf") && !e.contains("bios-spark") && !e.contains("examples" + File.separator + "target")
            && !e.contains("tensorflow") && !e.contains("javacpp") && !e.contains("ndarray"))
        .collect(Collectors.joining(File.pathSeparator));
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("--add-opens") || a.startsWith("-Djdk.reflect") || a.startsWith("-Dio.netty"))
        .forEach(cmd::add);
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-cp", sparkOnly, "org.apache.spark.deploy.SparkSubmit"));
    cmd.addAll(args);
    Path out = dir.resolve("stdout.log");
    Path err = dir.resolve("stderr.log");
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    boolean ended = p.waitFor(minutes, TimeUnit.MINUTES);
    if (!ended) {
      p.destroyForcibly().waitFor();
    }
    return new Result(ended, ended ? p.exitValue() : -1,
        Files.readAllLines(out, StandardCharsets.UTF_8), Files.readAllLines(err, StandardCharsets.UTF_8));
  }

  /** A jar of the compiled examples ({@code target/classes}): the application jar a user submits. */
  static Path examplesJar(Path jar) throws IOException {
    Path classes = Path.of("target", "classes");
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
