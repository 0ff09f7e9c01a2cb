package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import ai.bios.tf.Threads;
import ai.bios.tf.checkpoint.Checkpoint;
import ai.bios.tf.checkpoint.CheckpointStore;
import ai.bios.tf.collective.Collective;
import ai.bios.tf.collective.LocalCollective;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.PrefetchQueue;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.input.RecordStream;
import ai.bios.tf.model.TrainableModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Trains a model on one worker's records: the one step loop behind both schedules.
 *
 * <pre>
 * SIMPLE     take batch (built here) -> gradients -> aggregate -> apply -> report -> checkpoint
 * EFFICIENT  take batch (built ahead by the feeder) -> gradients -> aggregate -> apply
 *            -> hand metrics to the reporter thread -> snapshot a due checkpoint, write it in the
 *               background (one write in flight; the last awaited before run() returns)
 * </pre>
 *
 * <p>Both schedules run the same {@link StepExecutor} on the same batches in the same order, so
 * for the same seed, data and worker count they produce bitwise-identical losses and weights.
 *
 * <p>When a {@link CheckpointStore} holds a checkpoint of this run, {@link #run()} resumes from it:
 * weights, optimizer state, and the data position (the next step; data order is a pure function of
 * seed, epoch and rank), so the result equals an uninterrupted run bit for bit.
 *
 * <p>A loop is used once. It owns the threads, queues and batches it creates and releases all of
 * them before {@link #run()} returns or throws; the model, source, collective and store stay the
 * caller's.
 */
public final class StepLoop {
  private final TrainableModel model;
  private final RecordSource source;
  private final TrainingConfig config;
  private Collective collective = new LocalCollective();
  private CheckpointStore store;
  private boolean writeCheckpoints = true;
  private long resumeFrom = -1;
  private StepListener listener = StepListener.NONE;
  private int stepsPerEpoch = -1;
  private String threadPrefix = "bios";
  private boolean used;

  public StepLoop(TrainableModel model, RecordSource source, TrainingConfig config) {
    this.model = model;
    this.source = source;
    this.config = config;
  }

  /** Aggregates across workers with {@code c} (default: a single worker). */
  public StepLoop collective(Collective c) {
    this.collective = c;
    return this;
  }

  /** Writes checkpoints to, and resumes from, {@code s}. */
  public StepLoop checkpoints(CheckpointStore s) {
    this.store = s;
    return this;
  }

  /**
   * Whether this worker writes checkpoints (default true). Workers of one run hold identical
   * state, so in a distributed run one worker writes and all read.
   */
  public StepLoop writeCheckpoints(boolean write) {
    this.writeCheckpoints = write;
    return this;
  }

  /**
   * Resume from the checkpoint of exactly this step (0: start afresh), instead of the newest one.
   * Distributed workers agree on the step first, so they all resume from the same state.
   */
  public StepLoop resumeFrom(long step) {
    if (step < 0) {
      throw new IllegalArgumentException("resumeFrom must be >= 0, was " + step);
    }
    this.resumeFrom = step;
    return this;
  }

  public StepLoop listener(StepListener l) {
    this.listener = l;
    return this;
  }

  /**
   * Steps per epoch agreed by all workers (the most any worker needs). Default: what this worker's
   * records need, right for one worker.
   */
  public StepLoop stepsPerEpoch(int steps) {
    this.stepsPerEpoch = steps;
    return this;
  }

  /** Prefix of the names of the threads this loop starts (default {@code bios}). */
  public StepLoop threadPrefix(String prefix) {
    this.threadPrefix = prefix;
    return this;
  }

  /** The run's identity as checkpoints record it ({@code stepsPerEpoch} -1 while a streamed first epoch runs). */
  private Checkpoint.RunIdentity identity(int stepsPerEpoch) {
    return new Checkpoint.RunIdentity(model.spec().toJson(), model.optimizer().toString(),
        config.batchSize(), config.seed(), config.shuffle(), collective.size(), stepsPerEpoch, firstEpochWindow());
  }

  /** The window a streamed first epoch draws from (1: arrival order), or 0 when the source is complete. */
  private int firstEpochWindow() {
    return !(source instanceof RecordStream) ? 0 : config.shuffle() ? config.shuffleWindow() : 1;
  }

  private int localBatch() {
    int localBatch = config.localBatchSize(collective.rank(), collective.size());
    if (localBatch < 1) {
      throw new BiosException("batchSize " + config.batchSize() + " is smaller than the "
          + collective.size() + " workers; raise batchSize to at least numWorkers");
    }
    return localBatch;
  }

  private DataPlan planFor(int steps) {
    return new DataPlan(source.size(), localBatch(), steps, config.seed(), collective.rank(), config.shuffle());
  }

  /** The run's step count for {@code steps} per epoch. */
  private long totalFor(int steps) {
    long total = (long) steps * config.epochs();
    return config.maxSteps() > 0 ? Math.min(total, config.maxSteps()) : total;
  }

  /** The step the run ends before, as far as known: {@code stepsPerEpoch} -1 means not known yet. */
  private long endFor(int stepsPerEpoch) {
    return stepsPerEpoch > 0 ? totalFor(stepsPerEpoch)
        : config.maxSteps() > 0 ? config.maxSteps() : Long.MAX_VALUE;
  }

  /**
   * Trains until the last epoch (or {@code maxSteps}) and reports. A {@link RecordStream} source
   * trains its first epoch on records as they arrive (see {@link StreamedEpoch}).
   */
  public TrainingReport run() {
    if (used) {
      throw new IllegalStateException("a StepLoop runs once; build a new one");
    }
    used = true;
    int localBatch = localBatch();
    StreamedEpoch streamed = null;
    int known;
    if (source instanceof RecordStream stream) {
      if (stepsPerEpoch > 0) {
        throw new IllegalStateException("stepsPerEpoch is agreed while a RecordStream's first epoch runs; "
            + "do not set it");
      }
      streamed = new StreamedEpoch(stream, localBatch, firstEpochWindow(), config.seed(), collective.rank(),
          config.inputTimeout());
      known = -1;
    } else {
      known = stepsPerEpoch > 0 ? stepsPerEpoch : DataPlan.stepsFor(source.size(), localBatch);
      if (known == 0) {
        throw new BiosException("no training data: the record source is empty on every worker; "
            + "check the input (an empty DataFrame or a filter that drops every row)");
      }
    }
    Losses losses = new Losses();
    long first = resume(losses, streamed, known);
    if (streamed != null && streamed.stepsPerEpoch() > 0) {
      known = streamed.stepsPerEpoch();
    }
    long end = endFor(known);
    int bound = (int) Math.min(Integer.MAX_VALUE / Stage.values().length, end - first);
    if (end - first > bound && known > 0) {
      throw new BiosException("run of " + (end - first) + " steps is too long for one loop");
    }
    StepTimeline timeline = new StepTimeline(first, bound);
    Longs loopStart = new Longs();
    Longs loopEnd = new Longs();
    Longs accounted = new Longs(); // time of named stages on the loop thread
    boolean efficient = config.mode() == ExecutionMode.EFFICIENT;
    Stage[] loopStages = efficient
        ? new Stage[] {Stage.INPUT_WAIT, Stage.COMPUTE, Stage.AGGREGATE, Stage.APPLY}
        : new Stage[] {Stage.INPUT, Stage.COMPUTE, Stage.AGGREGATE, Stage.APPLY, Stage.REPORT, Stage.CHECKPOINT};
    StepExecutor executor = new StepExecutor(model, collective, timeline);

    long samples = 0;
    long t0 = System.nanoTime();
    long inputWait = 0;
    long waitedSoFar = 0;
    long busySoFar = 0;
    int depth = 0;
    long step = first;
    try (BatchAssembler assembler = new BatchAssembler(model.spec(), localBatch)) {
      BatchProducer producer = new BatchProducer(source, assembler, timeline, streamed, this::planFor,
          this::totalFor, known, config.maxSteps(), localBatch, first);
      try (Input input = efficient ? new QueuedInput(producer, assembler.batchBytes(), timeline)
              : new DirectInput(producer);
          Reporter reporter = efficient ? new AsyncReporter(timeline) : new InlineReporter(timeline);
          Checkpointer checkpointer = store == null || !writeCheckpoints ? null
              : efficient ? new BackgroundCheckpointer(timeline, reporter) : new InlineCheckpointer(timeline, reporter)) {
        for (; step < endFor(known); step++) {
          long begin = System.nanoTime();
          Batch batch = input.take(step);
          StepResult result = executor.run(batch, known < 0 && streamed.moreAfter(step));
          if (known < 0) {
            streamed.decide(step, result.anyMore());
            known = streamed.stepsPerEpoch();
          }
          losses.set(step, result.loss());
          samples += result.samples();
          waitedSoFar += Math.max(0, timeline.duration(step, Stage.INPUT_WAIT));
          busySoFar += timeline.duration(step, Stage.COMPUTE) + timeline.duration(step, Stage.APPLY);
          long now = System.nanoTime();
          reporter.report(new StepMetrics(step, known > 0 ? (int) (step / known) : 0, known > 0 ? totalFor(known) : -1,
              result.loss(), result.samples(), now - t0, samples, waitedSoFar, busySoFar));
          long snapshotNanos = 0;
          if (checkpointer != null && config.checkpointInterval() > 0
              && ((step + 1) % config.checkpointInterval() == 0 || step + 1 == endFor(known))) {
            long s0 = System.nanoTime();
            Checkpoint snapshot = snapshot(identity(known), step + 1, losses);
            snapshotNanos = efficient ? System.nanoTime() - s0 : 0; // SIMPLE times it as CHECKPOINT
            checkpointer.checkpoint(step, snapshot);
          }
          loopStart.add(begin);
          loopEnd.add(System.nanoTime());
          long named = snapshotNanos;
          for (Stage stage : loopStages) {
            named += Math.max(0, timeline.duration(step, stage));
          }
          accounted.add(named);
        }
        if (checkpointer != null) {
          checkpointer.finish();
        }
        reporter.finish();
        inputWait = input.waitNanos();
        depth = input.depth();
      }
    }
    long wall = System.nanoTime() - t0;
    int n = (int) (step - first);
    long[] iterations = new long[n];
    long[] overhead = new long[n];
    for (int i = 0; i < n; i++) {
      iterations[i] = loopEnd.get(i) - loopStart.get(i);
      overhead[i] = Math.max(0, iterations[i] - accounted.get(i));
    }
    if (!efficient) {
      inputWait = 0; // in SIMPLE the loop builds batches itself: that is INPUT, not waiting
    }
    return new TrainingReport(config.mode(), depth, first, n, samples, wall, losses.upTo(step),
        timeline.perStepCost(0, n), StepTimeline.median(iterations), StepTimeline.median(overhead),
        timeline.total(Stage.COMPUTE, n) + timeline.total(Stage.APPLY, n), inputWait, timeline);
  }

  /**
   * Loads the checkpoint to resume from, if any, and positions a streamed first epoch: mid-epoch it
   * replays the arrivals of the steps already taken; past it, it reads the whole stream and checks
   * with the other workers that the data still makes the checkpoint's number of steps per epoch.
   * Returns the first step to run.
   */
  private long resume(Losses losses, StreamedEpoch streamed, int known) {
    if (store == null || resumeFrom == 0) {
      return 0;
    }
    Optional<Checkpoint> latest;
    try {
      latest = resumeFrom > 0 ? store.read(resumeFrom) : store.latest();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoints in " + store.location(), e);
    }
    if (latest.isEmpty() && resumeFrom > 0) {
      throw new BiosException("checkpoint for step " + resumeFrom + " is missing from " + store.location());
    }
    if (latest.isEmpty()) {
      return 0;
    }
    Checkpoint c = latest.get();
    String where = store.location() + " (step " + c.nextStep() + ")";
    c.requireCompatible(identity(known), where);
    int steps = c.identity().stepsPerEpoch();
    if (streamed != null) {
      if (steps > 0 && c.nextStep() >= steps) {
        int mine = streamed.drain();
        double[] agree = {mine == steps ? 1 : 0, mine > steps ? 1 : 0};
        collective.allReduceStats(agree);
        if (agree[0] < 1 || agree[1] > 0) {
          throw new BiosException("checkpoint " + where + " was trained with " + steps + " steps per epoch, but "
              + "the training data now makes " + (agree[1] > 0 ? "more" : "fewer") + " (this worker: " + mine
              + "): the data changed; train on the same data to resume, or point checkpointDir at an empty directory");
        }
        streamed.known(steps);
      } else {
        // Inside the first epoch: replay its arrivals, which only reproduces its order if the
        // checkpoint's first epoch was streamed through the same window.
        int window = c.identity().firstEpochWindow();
        if (window != firstEpochWindow()) {
          throw new BiosException("checkpoint " + where + " was taken inside a first epoch "
              + (window == 0 ? "that was not streamed" : "drawn from a window of " + window + " records")
              + ", but this run " + (firstEpochWindow() == 1 ? "streams it in arrival order"
                  : "draws it from a window of " + firstEpochWindow())
              + "; resume with the same shuffleWindow (and shuffle), or point checkpointDir at an empty directory");
        }
        streamed.skip(c.nextStep());
        streamed.resumedAt(c.nextStep()); // the steps before it were voted "the epoch goes on"
      }
    }
    long end = endFor(steps > 0 ? steps : known);
    if (c.nextStep() > end) {
      throw new BiosException("checkpoint in " + store.location() + " is at step " + c.nextStep()
          + ", past this run's " + end + " steps; raise epochs or use another checkpointDir");
    }
    model.importWeights(c.weights());
    model.importOptimizerState(c.optimizerState(), c.appliedSteps());
    double[] history = c.lossHistory();
    for (int i = 0; i < history.length; i++) {
      losses.set(i, history[i]);
    }
    return c.nextStep();
  }

  private Checkpoint snapshot(Checkpoint.RunIdentity id, long nextStep, Losses losses) {
    return new Checkpoint(id, nextStep, model.appliedSteps(), model.exportWeights(),
        model.exportOptimizerState(), losses.upTo(nextStep));
  }

  /** The loss of every step so far; grows on the loop thread. */
  private static final class Losses {
    private double[] values = new double[1024];

    void set(long step, double loss) {
      if (step >= values.length) {
        if (step >= Integer.MAX_VALUE - 8) {
          throw new BiosException("run of " + step + " steps is too long for one loop");
        }
        values = Arrays.copyOf(values, (int) Math.max(step + 1, Math.min(Integer.MAX_VALUE - 8L, 2L * values.length)));
      }
      values[(int) step] = loss;
    }

    double[] upTo(long steps) {
      return Arrays.copyOf(values, (int) steps);
    }
  }

  /** A growing list of longs, on the loop thread. */
  private static final class Longs {
    private long[] values = new long[1024];
    private int size;

    void add(long v) {
      if (size == values.length) {
        values = Arrays.copyOf(values, values.length * 2);
      }
      values[size++] = v;
    }

    long get(int i) {
      return values[i];
    }
  }

  // ---- input --------------------------------------------------------------------------------

  private interface Input extends AutoCloseable {
    Batch take(long step);

    long waitNanos();

    int depth();

    @Override
    void close();
  }

  /** SIMPLE: the loop builds each batch when it needs it. */
  private static final class DirectInput implements Input {
    private final BatchProducer producer;

    DirectInput(BatchProducer producer) {
      this.producer = producer;
    }

    @Override
    public Batch take(long step) {
      try {
        return producer.next().orElseThrow(() -> new IllegalStateException("no batch for step " + step));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new BiosException("interrupted while building the batch of step " + step, e);
      }
    }

    @Override
    public long waitNanos() {
      return 0;
    }

    @Override
    public int depth() {
      return 0;
    }

    @Override
    public void close() {}
  }

  /** EFFICIENT: the feeder thread keeps up to {@code prefetchDepth} batches ready. */
  private final class QueuedInput implements Input {
    private final PrefetchQueue<Batch> queue;
    private final StepTimeline timeline;

    QueuedInput(BatchProducer producer, long batchBytes, StepTimeline timeline) {
      PrefetchDepth depth = config.prefetchDepth();
      String name = threadPrefix + "-feeder";
      PrefetchQueue<Batch> q = depth.automatic()
          ? PrefetchQueue.auto(producer, Math.max(1, batchBytes), config.prefetchMemoryBytes(), name)
          : PrefetchQueue.fixed(producer, depth.batches(), name);
      this.queue = q.withTakeTimeout(config.inputTimeout()).start();
      this.timeline = timeline;
    }

    @Override
    public Batch take(long step) {
      long t0 = System.nanoTime();
      Batch b = queue.take().orElseThrow(() -> new IllegalStateException("feeder ended before step " + step));
      timeline.record(step, Stage.INPUT_WAIT, t0, System.nanoTime());
      if (b.step() != step) {
        b.close();
        throw new IllegalStateException("feeder delivered step " + b.step() + " for step " + step);
      }
      return b;
    }

    @Override
    public long waitNanos() {
      return queue.consumerWaitNanos();
    }

    @Override
    public int depth() {
      return queue.depth();
    }

    @Override
    public void close() {
      queue.close();
    }
  }

  // ---- reporting ----------------------------------------------------------------------------

  private interface Reporter extends AutoCloseable {
    void report(StepMetrics m);

    void checkpointed(long step);

    /** Delivers everything reported so far; rethrows the listener's failure. */
    void finish();

    @Override
    void close();
  }

  private final class InlineReporter implements Reporter {
    private final StepTimeline timeline;

    InlineReporter(StepTimeline timeline) {
      this.timeline = timeline;
    }

    @Override
    public void report(StepMetrics m) {
      long t0 = System.nanoTime();
      deliver(() -> listener.onStep(m));
      timeline.record(m.step(), Stage.REPORT, t0, System.nanoTime());
    }

    @Override
    public void checkpointed(long step) {
      deliver(() -> listener.onCheckpoint(step));
    }

    @Override
    public void finish() {}

    @Override
    public void close() {}
  }

  /** EFFICIENT: metrics go through a bounded queue to the reporter thread, in order. */
  private final class AsyncReporter implements Reporter {
    private static final int CAPACITY = 1024;
    private final ArrayBlockingQueue<Object> queue = new ArrayBlockingQueue<>(CAPACITY);
    private final Object end = new Object();
    private final StepTimeline timeline;
    private final Thread thread;
    private volatile Throwable failure;

    AsyncReporter(StepTimeline timeline) {
      this.timeline = timeline;
      this.thread = new Thread(this::loop, threadPrefix + "-reporter");
      thread.setDaemon(true);
      thread.start();
    }

    private void loop() {
      try {
        while (true) {
          Object item = queue.take();
          if (item == end) {
            return;
          }
          if (failure != null) {
            continue; // drain without delivering after a failure
          }
          try {
            if (item instanceof StepMetrics m) {
              long t0 = System.nanoTime();
              deliver(() -> listener.onStep(m));
              timeline.record(m.step(), Stage.REPORT, t0, System.nanoTime());
            } else {
              long step = (Long) item;
              deliver(() -> listener.onCheckpoint(step));
            }
          } catch (RuntimeException | Error e) {
            failure = e;
          }
        }
      } catch (InterruptedException e) {
        // close(): stop at once
      }
    }

    private void put(Object item) {
      rethrow();
      try {
        if (!queue.offer(item, config.inputTimeout().toNanos(), TimeUnit.NANOSECONDS)) {
          throw new BiosException("the step listener has not taken a report for "
              + config.inputTimeout() + " (it blocks); make StepListener.onStep return promptly");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new BiosException("interrupted while reporting", e);
      }
    }

    private void rethrow() {
      Throwable f = failure;
      if (f != null) {
        throw new BiosException("the step listener failed: " + f, f);
      }
    }

    @Override
    public void report(StepMetrics m) {
      put(m);
    }

    @Override
    public void checkpointed(long step) {
      put(step);
    }

    @Override
    public void finish() {
      put(end);
      join();
      rethrow();
    }

    private void join() {
      if (Threads.joinUninterruptibly(thread, true)) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public void close() {
      thread.interrupt();
      join();
    }
  }

  @FunctionalInterface
  private interface ListenerCall {
    void call() throws Exception;
  }

  private static void deliver(ListenerCall call) {
    try {
      call.call();
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new BiosException("the step listener failed: " + e, e);
    }
  }

  // ---- checkpoints --------------------------------------------------------------------------

  private interface Checkpointer extends AutoCloseable {
    void checkpoint(long step, Checkpoint snapshot);

    /** Waits for the last write; rethrows its failure. */
    void finish();

    @Override
    void close();
  }

  private void writeCheckpoint(Checkpoint c) {
    try {
      store.write(c);
    } catch (IOException e) {
      throw new UncheckedIOException("checkpoint for step " + c.nextStep() + " could not be written to "
          + store.location() + ": " + e.getMessage() + "; point checkpointDir at a writable location", e);
    }
  }

  private final class InlineCheckpointer implements Checkpointer {
    private final StepTimeline timeline;
    private final Reporter reporter;

    InlineCheckpointer(StepTimeline timeline, Reporter reporter) {
      this.timeline = timeline;
      this.reporter = reporter;
    }

    @Override
    public void checkpoint(long step, Checkpoint snapshot) {
      long t0 = System.nanoTime();
      writeCheckpoint(snapshot);
      timeline.record(step, Stage.CHECKPOINT, t0, System.nanoTime());
      reporter.checkpointed(snapshot.nextStep());
    }

    @Override
    public void finish() {}

    @Override
    public void close() {}
  }

  /** EFFICIENT: one background write in flight; the loop only waits if the previous is unfinished. */
  private final class BackgroundCheckpointer implements Checkpointer {
    private final StepTimeline timeline;
    private final Reporter reporter;
    private final Thread thread;
    private final Object lock = new Object();
    private Checkpoint next; // guarded by lock
    private long nextStep; // guarded by lock
    private boolean busy; // guarded by lock
    private boolean stopping; // guarded by lock
    private Throwable failure; // guarded by lock

    BackgroundCheckpointer(StepTimeline timeline, Reporter reporter) {
      this.timeline = timeline;
      this.reporter = reporter;
      this.thread = new Thread(this::loop, threadPrefix + "-checkpointer");
      thread.setDaemon(true);
      thread.start();
    }

    private void loop() {
      while (true) {
        Checkpoint c;
        long step;
        synchronized (lock) {
          while (next == null && !stopping) {
            try {
              lock.wait();
            } catch (InterruptedException e) {
              return;
            }
          }
          if (next == null) {
            return;
          }
          c = next;
          step = nextStep;
          next = null;
          busy = true;
        }
        try {
          long t0 = System.nanoTime();
          writeCheckpoint(c);
          timeline.record(step, Stage.CHECKPOINT, t0, System.nanoTime());
          reporter.checkpointed(c.nextStep());
        } catch (Throwable t) {
          synchronized (lock) {
            failure = t;
          }
        } finally {
          synchronized (lock) {
            busy = false;
            lock.notifyAll();
          }
        }
      }
    }

    /** Caller holds lock. Waits until no write is queued or running. */
    private void awaitIdleLocked() {
      long deadline = System.nanoTime() + config.inputTimeout().toNanos();
      while ((busy || next != null) && failure == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new BiosException("a checkpoint write to " + store.location() + " has not finished in "
              + config.inputTimeout() + "; check the file system");
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(lock, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new BiosException("interrupted while waiting for a checkpoint write", e);
        }
      }
      if (failure != null) {
        Throwable f = failure;
        throw f instanceof RuntimeException r ? r : new BiosException("checkpoint write failed: " + f, f);
      }
    }

    @Override
    public void checkpoint(long step, Checkpoint snapshot) {
      synchronized (lock) {
        awaitIdleLocked();
        next = snapshot;
        nextStep = step;
        lock.notifyAll();
      }
    }

    @Override
    public void finish() {
      synchronized (lock) {
        awaitIdleLocked();
      }
    }

    @Override
    public void close() {
      synchronized (lock) {
        stopping = true;
        lock.notifyAll();
      }
      if (Threads.joinUninterruptibly(thread, false)) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
