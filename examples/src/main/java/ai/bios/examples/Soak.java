package ai.bios.examples;

import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.exec.ExecutionMode;
import ai.bios.tf.exec.StepLoop;
import ai.bios.tf.exec.TrainingConfig;
import ai.bios.tf.exec.TrainingReport;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.LayerSpec;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A long efficient-mode run (feeder, reporter, background checkpoints every 50 steps) in segments,
 * each a fresh model and loop resuming from the last checkpoint, as retries and reruns would.
 * Prints resident memory and live threads at the start, middle and end; the last line is JSON with
 * {@code rss_growth_pct} (end versus after the first segment, when TensorFlow, the JIT and the
 * heap are warm) and {@code threads_leaked} (Bios threads alive at the end that were not at the
 * start; other new threads are listed). Run it with a fixed, pre-touched heap so that heap growth
 * is not mistaken for a leak: {@code BIOS_JAVA_OPTS="-Xms1g -Xmx1g -XX:+AlwaysPreTouch"}.
 *
 * <pre>examples/bin/run-example Soak [--steps 10000] [--segment 1000]</pre>
 */
public final class Soak {
  private Soak() {}

  public static void main(String[] args) throws Exception {
    Args a = new Args(args);
    long steps = Long.parseLong(a.get("steps", "10000"));
    long segment = Long.parseLong(a.get("segment", "1000"));
    a.requireConsumed();
    ModelSpec spec = ModelSpec.builder(16, 16, 3)
        .conv2d(8, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
        .flatten().dense(32, Activation.RELU).dense(10, Activation.NONE).seed(1).build();
    EncodedImages data = new EncodedImages(2048, 10, 32, 16, 3);
    int perEpoch = data.size() / 32;
    int epochs = (int) ((steps + perEpoch - 1) / perEpoch);
    Path dir = Files.createTempDirectory("bios-soak");
    try {
      java.util.Set<String> threadsAtStart = threadNames();
      long rssStart = rssKb();
      report("start", 0, rssStart);
      long rssWarm = -1;
      long done = 0;
      boolean middlePrinted = false;
      while (done < steps) {
        long until = Math.min(steps, done + segment);
        TrainingConfig config = TrainingConfig.builder().mode(ExecutionMode.EFFICIENT).prefetchDepth(4)
            .batchSize(32).epochs(epochs).maxSteps(until).checkpointInterval(50).seed(2).build();
        try (TrainableModel model = new TrainableModel(spec, OptimizerSpec.adam(0.001),
            ComputeOptions.cpu().withThreads(1, 1))) {
          TrainingReport r = new StepLoop(model, data, config)
              .checkpoints(new LocalCheckpointStore(dir, 2)).run();
          done = r.firstStep() + r.steps();
        }
        if (rssWarm < 0) {
          rssWarm = rssKb(); // after the first segment: TF, JIT and pools are warm
        }
        if (!middlePrinted && done >= steps / 2) {
          report("middle", done, rssKb());
          middlePrinted = true;
        }
      }
      long rssEnd = rssKb();
      report("end", done, rssEnd);
      java.util.Set<String> extra = threadNames();
      extra.removeAll(threadsAtStart);
      if (!extra.isEmpty()) {
        System.out.println("threads alive at the end that were not at the start: " + extra);
      }
      long leaked = extra.stream().filter(n -> n.startsWith("bios")).count();
      System.out.printf(Locale.ROOT,
          "{\"steps\":%d,\"rss_start_kb\":%d,\"rss_warm_kb\":%d,\"rss_end_kb\":%d,\"rss_growth_pct\":%.2f,"
              + "\"threads_leaked\":%d}%n",
          done, rssStart, rssWarm, rssEnd, 100.0 * (rssEnd - rssWarm) / rssWarm, leaked);
    } finally {
      try (Stream<Path> paths = Files.walk(dir)) {
        for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static java.util.Set<String> threadNames() {
    java.util.Set<String> names = new java.util.TreeSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      names.add(t.getName());
    }
    return names;
  }

  private static void report(String when, long step, long rss) {
    System.out.printf(Locale.ROOT, "%-6s step %6d  rss %d kB  live threads %d%n", when, step, rss, Thread.activeCount());
  }

  /** Resident set size of this process, from /proc (Linux). */
  private static long rssKb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }
}
