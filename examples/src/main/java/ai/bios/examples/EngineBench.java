package ai.bios.examples;

import ai.bios.tf.checkpoint.LocalCheckpointStore;
import ai.bios.tf.exec.ExecutionMode;
import ai.bios.tf.exec.PrefetchDepth;
import ai.bios.tf.exec.Stage;
import ai.bios.tf.exec.StepListener;
import ai.bios.tf.exec.StepLoop;
import ai.bios.tf.exec.StepMetrics;
import ai.bios.tf.exec.TrainingConfig;
import ai.bios.tf.exec.TrainingReport;
import ai.bios.tf.model.Activation;
import ai.bios.tf.model.ComputeOptions;
import ai.bios.tf.model.LayerSpec;
import ai.bios.tf.model.ModelSpec;
import ai.bios.tf.model.OptimizerSpec;
import ai.bios.tf.model.TrainableModel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The engine benchmark: the same training in SIMPLE and EFFICIENT mode in one process, interleaved
 * in blocks after a warm-up, medians reported. The last line is one JSON object.
 *
 * <pre>examples/bin/run-example EngineBench --workload balanced|input-bound|compute-bound|seed
 *     [--steps N] [--blocks B] [--prefetch N|auto] [--input-threads N|auto] [--source PIXELS]</pre>
 *
 * <p>{@code --input-threads} (default 1; {@code auto}: the cores less one, at least 1) transforms the
 * images on that many threads in EFFICIENT mode (the feeder and {@code N - 1} input threads).
 *
 * <p>Fitted to a 2-core machine: TensorFlow runs with one intra-op and one inter-op thread, the
 * feeder is one thread, so compute and input each have a core. Reporting and checkpoint writes are
 * I/O (an fsync'd metrics log, fsync'd checkpoint files) and need little CPU.
 */
public final class EngineBench {
  private EngineBench() {}

  /** A workload: input cost (image decode size), compute cost (model), and the side work per step. */
  private record Workload(String name, int sourceSize, int imageSize, ModelSpec spec, int batch,
      boolean reportEveryStep, int checkpointInterval) {}

  private static ModelSpec cnn(int image, int filters, int dense) {
    return ModelSpec.builder(image, image, 3)
        .conv2d(filters, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
        .conv2d(2 * filters, 3, 1, LayerSpec.Padding.SAME, Activation.RELU).maxPool(2, 2)
        .flatten().dense(dense, Activation.RELU).dense(10, Activation.NONE).seed(17).build();
  }

  private static Workload workload(String name) {
    return switch (name) {
      // Input: inflate a 96x96 image and downsample to 32x32 (~9 ms per batch of 64 here);
      // compute: a small CNN of about the same cost.
      case "balanced" -> new Workload(name, 96, 32, cnn(32, 8, 32), 64, false, 0);
      // Twice the image side to decode (4x the bytes), same model.
      case "input-bound" -> new Workload(name, 192, 32, cnn(32, 8, 32), 64, false, 0);
      // Images already at model size, a CNN twice as wide.
      case "compute-bound" -> new Workload(name, 32, 32, cnn(32, 16, 64), 64, false, 0);
      // The product promise: input about as costly as compute, the loss read back and reported
      // every step to an fsync'd metrics log, and a checkpoint (weights and Adam state, ~4.7 MB,
      // fsync'd) every 2 steps.
      case "seed" -> new Workload(name, 96, 32, cnn(32, 8, 384), 32, true, 2);
      default -> throw new IllegalArgumentException(
          "--workload must be balanced, input-bound, compute-bound or seed, was " + name);
    };
  }

  public static void main(String[] args) throws Exception {
    Args a = new Args(args);
    Workload base = workload(a.get("workload", "balanced"));
    // Calibration overrides (the named workloads are the reference; these exist to size them).
    int source = Integer.parseInt(a.get("source", String.valueOf(base.sourceSize())));
    int filters = Integer.parseInt(a.get("filters", "0"));
    int dense = Integer.parseInt(a.get("dense", "0"));
    int batch = Integer.parseInt(a.get("batch", String.valueOf(base.batch())));
    int every = Integer.parseInt(a.get("checkpoint-every", String.valueOf(base.checkpointInterval())));
    Workload w = new Workload(base.name(), source, base.imageSize(),
        filters > 0 ? cnn(base.imageSize(), filters, dense > 0 ? dense : 64) : base.spec(), batch,
        base.reportEveryStep(), every);
    int steps = Integer.parseInt(a.get("steps", "60"));
    int blocks = Integer.parseInt(a.get("blocks", "4"));
    PrefetchDepth depth = PrefetchDepth.parse(a.get("prefetch", "4"));
    int cores = Runtime.getRuntime().availableProcessors();
    String threadsArg = a.get("input-threads", "1");
    int inputThreads = threadsArg.equals("auto") ? Math.max(1, cores - 1) : Integer.parseInt(threadsArg);
    a.requireConsumed();

    EncodedImages data = new EncodedImages(steps * w.batch(), 10, w.sourceSize(), w.imageSize(), 5);
    Path scratch = Files.createTempDirectory("bios-bench");
    try {
      System.out.printf(Locale.ROOT, "workload %s: %d records %dx%d decoded to %dx%d, batch %d, %d steps x %d blocks,"
              + " %d input threads%n",
          w.name(), data.size(), w.sourceSize(), w.sourceSize(), w.imageSize(), w.imageSize(), w.batch(), steps, blocks,
          inputThreads);
      run(w, data, ExecutionMode.SIMPLE, depth, inputThreads, steps, scratch); // warm-up (JIT, TF kernels, page cache)
      run(w, data, ExecutionMode.EFFICIENT, depth, inputThreads, steps, scratch);

      List<Result> simple = new ArrayList<>();
      List<Result> efficient = new ArrayList<>();
      for (int b = 0; b < blocks; b++) {
        boolean simpleFirst = b % 2 == 0;
        for (ExecutionMode mode : simpleFirst
            ? List.of(ExecutionMode.SIMPLE, ExecutionMode.EFFICIENT)
            : List.of(ExecutionMode.EFFICIENT, ExecutionMode.SIMPLE)) {
          Result r = run(w, data, mode, depth, inputThreads, steps, scratch);
          (mode == ExecutionMode.SIMPLE ? simple : efficient).add(r);
          System.out.printf(Locale.ROOT, "block %d %-9s step median %.2f ms  wall/step %.2f ms  %s%n",
              b, mode, r.report.stepMedianNanos() / 1e6, r.report.wallNanos() / 1e6 / steps, stages(r.report));
        }
      }
      double simpleMs = median(simple.stream().mapToDouble(r -> r.report.stepMedianNanos() / 1e6).toArray());
      double efficientMs = median(efficient.stream().mapToDouble(r -> r.report.stepMedianNanos() / 1e6).toArray());
      double simpleWall = median(simple.stream().mapToDouble(r -> r.report.wallNanos() / 1e6 / steps).toArray());
      double efficientWall = median(efficient.stream().mapToDouble(r -> r.report.wallNanos() / 1e6 / steps).toArray());
      // Stage costs as SIMPLE measures them: each stage alone, nothing overlapping.
      Map<Stage, Double> cost = new EnumMap<>(Stage.class);
      for (Stage s : Stage.values()) {
        if (s.isWork()) {
          cost.put(s, median(simple.stream().mapToDouble(r -> r.report.stageMillis(s)).toArray()));
        }
      }
      double sum = cost.values().stream().mapToDouble(Double::doubleValue).sum();
      double longest = cost.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
      double overheadMs = median(efficient.stream().mapToDouble(r -> r.report.overheadMedianNanos() / 1e6).toArray());
      boolean bitwise = simple.stream().allMatch(r -> Arrays.equals(r.weights, efficient.get(0).weights))
          && efficient.stream().allMatch(r -> Arrays.equals(r.weights, efficient.get(0).weights));
      int chosenDepth = efficient.get(efficient.size() - 1).report.prefetchDepth();
      // The CPU floor: what all threads' CPU time per step allows on this machine's cores. On a
      // CPU-only host compute shares the cores with input, so this, not the ceiling, is the limit.
      // The process clock counts TensorFlow's native threads too (ThreadMXBean sees Java threads only).
      double cpuMs = median(efficient.stream().mapToDouble(r -> r.cpuNanos / 1e6 / steps).toArray());
      double cpuFloorMs = cpuMs / cores;
      double simpleCpuMs = median(simple.stream().mapToDouble(r -> r.cpuNanos / 1e6 / steps).toArray());
      // Cores this process actually got while the efficient runs ran (2 on an idle 2-core machine
      // at the floor; less when other processes share the cores, which the floor cannot see).
      double coresUsed = median(efficient.stream().mapToDouble(r -> (double) r.cpuNanos / r.report.wallNanos()).toArray());
      // Cores the other processes of the machine kept busy meanwhile (Linux /proc/stat; 0 elsewhere),
      // and the floor on the cores they left: what this run could reach on a machine it shares.
      double othersCores = median(efficient.stream()
          .mapToDouble(r -> Math.max(0, (double) (r.machineBusyNanos - r.cpuNanos) / r.report.wallNanos())).toArray());
      double availableCores = Math.max(1, cores - othersCores);
      double availableFloorMs = cpuMs / availableCores;
      double loopCpuMs = median(efficient.stream().mapToDouble(r -> r.loopCpuNanos / 1e6 / steps).toArray());
      double gcMs = median(efficient.stream().mapToDouble(r -> r.gcMillis / (double) steps).toArray());

      StringBuilder stageJson = new StringBuilder();
      for (Map.Entry<Stage, Double> e : cost.entrySet()) {
        stageJson.append(stageJson.length() == 0 ? "" : ",")
            .append(String.format(Locale.ROOT, "\"%s\":%.3f", e.getKey().name().toLowerCase(Locale.ROOT), e.getValue()));
      }
      System.out.printf(Locale.ROOT,
          "{\"workload\":\"%s\",\"steps\":%d,\"blocks\":%d,\"batch\":%d,\"simple_ms\":%.3f,\"efficient_ms\":%.3f,"
              + "\"speedup\":%.3f,\"ceiling\":%.3f,\"efficiency\":%.3f,\"bitwise_equal\":%b,"
              + "\"simple_wall_ms_per_step\":%.3f,\"efficient_wall_ms_per_step\":%.3f,\"speedup_wall\":%.3f,"
              + "\"overhead_ms\":%.4f,\"overhead_pct\":%.3f,\"prefetch_depth\":\"%s\",\"prefetch_depth_used\":%d,"
              + "\"cpu_ms_per_step\":%.3f,\"simple_cpu_ms_per_step\":%.3f,\"cores_used\":%.2f,\"cpu_floor_ms\":%.3f,\"efficiency_vs_cpu_floor\":%.3f,"
              + "\"efficiency_vs_cpu_floor_wall\":%.3f,\"other_processes_cores\":%.2f,"
              + "\"cpu_floor_available_ms\":%.3f,\"efficiency_vs_available_floor\":%.3f,\"loop_thread_cpu_ms\":%.3f,\"gc_ms_per_step\":%.3f,"
              + "\"stage_ms\":{%s},\"tf_threads\":{\"intra_op\":1,\"inter_op\":1},\"input_threads\":%d,"
              + "\"source_px\":%d,\"cores\":%d}%n",
          w.name(), steps, blocks, w.batch(), simpleMs, efficientMs, simpleMs / efficientMs, sum / longest,
          longest / efficientMs, bitwise, simpleWall, efficientWall, simpleWall / efficientWall,
          overheadMs, 100 * overheadMs / efficientMs, depth, chosenDepth, cpuMs, simpleCpuMs, coresUsed, cpuFloorMs, cpuFloorMs / efficientMs,
          cpuFloorMs / efficientWall, othersCores, availableFloorMs, availableFloorMs / efficientMs, loopCpuMs, gcMs, stageJson, inputThreads, w.sourceSize(), cores);
    } finally {
      deleteRecursively(scratch);
    }
  }

  /**
   * A run's report, final weights, the CPU time the whole process (every thread) and the loop's own
   * thread spent in its step loop, and the JVM's collectors' time meanwhile.
   */
  private record Result(TrainingReport report, float[] weights, long cpuNanos, long loopCpuNanos, long gcMillis,
      long machineBusyNanos) {}

  /** CPU time every process of the machine has spent so far (busy ticks of /proc/stat), or -1 off Linux. */
  private static long machineBusyNanos() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      long busy = 0;
      for (int i = 1; i < f.length && i <= 8; i++) {
        if (i != 4 && i != 5) { // idle, iowait
          busy += Long.parseLong(f[i]);
        }
      }
      return busy * 10_000_000L; // USER_HZ = 100
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static long gcMillis() {
    long sum = 0;
    for (java.lang.management.GarbageCollectorMXBean gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
      sum += Math.max(0, gc.getCollectionTime());
    }
    return sum;
  }

  /** CPU time of every thread of this process so far (Java and TensorFlow's native ones). */
  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
        .getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static Result run(Workload w, EncodedImages data, ExecutionMode mode, PrefetchDepth depth,
      int inputThreads, int steps, Path scratch) throws IOException {
    TrainingConfig config = TrainingConfig.builder()
        .mode(mode).prefetchDepth(depth).batchSize(w.batch()).epochs(1).maxSteps(steps).seed(9)
        .checkpointInterval(w.checkpointInterval()).inputThreads(inputThreads).build();
    Path run = Files.createTempDirectory(scratch, mode.name());
    try (TrainableModel model = new TrainableModel(w.spec(), OptimizerSpec.adam(0.001),
            ComputeOptions.cpu().withThreads(1, 1));
        MetricsLog log = w.reportEveryStep() ? new MetricsLog(run.resolve("metrics.jsonl")) : null) {
      StepLoop loop = new StepLoop(model, data, config);
      if (log != null) {
        loop.listener(log);
      }
      if (w.checkpointInterval() > 0) {
        loop.checkpoints(new LocalCheckpointStore(run.resolve("checkpoints"), 2));
      }
      java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
      long gc0 = gcMillis();
      long loop0 = threads.getCurrentThreadCpuTime();
      long machine0 = machineBusyNanos();
      long cpu0 = processCpuNanos();
      TrainingReport report = loop.run();
      long cpu = processCpuNanos() - cpu0;
      long machine = machine0 < 0 ? cpu : machineBusyNanos() - machine0; // off Linux: as if alone
      long loopCpu = threads.getCurrentThreadCpuTime() - loop0;
      return new Result(report, model.exportWeights(), cpu, loopCpu, gcMillis() - gc0, machine);
    } finally {
      deleteRecursively(run);
    }
  }

  /**
   * The seed workload's report: every step's loss and throughput appended to a JSON-lines metrics
   * log and forced to disk, so a crash never loses reported progress.
   */
  private static final class MetricsLog implements StepListener, AutoCloseable {
    private final FileChannel channel;

    MetricsLog(Path file) throws IOException {
      channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }

    @Override
    public void onStep(StepMetrics m) throws IOException {
      String line = String.format(Locale.ROOT, "{\"step\":%d,\"epoch\":%d,\"loss\":%.6f,\"samples_per_s\":%.1f}%n",
          m.step(), m.epoch(), m.loss(), m.samplesPerSecond());
      channel.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)));
      channel.force(false);
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }

  private static String stages(TrainingReport r) {
    StringBuilder b = new StringBuilder();
    for (Stage s : Stage.values()) {
      b.append(String.format(Locale.ROOT, "%s=%.2f ", s.name().toLowerCase(Locale.ROOT), r.stageMillis(s)));
    }
    return b.toString().trim();
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int m = s.length / 2;
    return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
