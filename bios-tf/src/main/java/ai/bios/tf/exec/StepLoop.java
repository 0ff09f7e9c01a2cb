package ai.bios.tf.exec;

import ai.bios.tf.checkpoint.Checkpoint;
import ai.bios.tf.checkpoint.CheckpointStore;
import ai.bios.tf.collective.Collective;
import ai.bios.tf.collective.LocalCollective;
import ai.bios.tf.concurrent.Cancellation;
import ai.bios.tf.concurrent.InputPool;
import ai.bios.tf.input.Batch;
import ai.bios.tf.input.BatchAssembler;
import ai.bios.tf.input.ParallelRecordSource;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.input.RecordStream;
import ai.bios.tf.model.TrainableModel;

/**
 * Trains a model on one worker's records: the one step loop behind both schedules.
 *
 * <pre>
 * for each step: take batch -> gradients -> aggregate -> apply -> report
 *               -> at an epoch's end: validate, record the epoch, decide early stopping
 *               -> checkpoint when due (or when stopping early)
 * </pre>
 *
 * <p>The {@link ExecutionMode} picks a {@link Schedule}, which decides only which thread builds the
 * batches, reports and writes checkpoints ({@link SimpleSchedule}: this one; {@link
 * EfficientSchedule}: background threads). Both run the same {@link StepExecutor} on the same
 * batches in the same order, so for the same seed, data and worker count they produce
 * bitwise-identical losses and weights.
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
  private Cancellation cancellation = Cancellation.NONE;
  private RecordSource validation;
  private EarlyStopping earlyStopping = EarlyStopping.OFF;
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

  /**
   * Checked before every step and by every wait of the run (at least once a second): once it
   * throws, the run stops with its exception, releasing its threads (default: never cancelled).
   * On Spark, the training task's kill flag.
   */
  public StepLoop cancellation(Cancellation c) {
    this.cancellation = java.util.Objects.requireNonNull(c, "cancellation");
    return this;
  }

  /**
   * This worker's validation records (default: none), evaluated at the end of every epoch; the
   * workers sum their shards' loss, correct count and AUC histogram (see {@link EpochMetrics}). Read
   * on the loop's thread only. With a {@link RecordStream} training source it may fill while the
   * first epoch streams, but must be complete when that worker's stream has ended.
   */
  public StepLoop validation(RecordSource records) {
    this.validation = java.util.Objects.requireNonNull(records, "validation");
    return this;
  }

  /**
   * Stops after {@code settings.patience()} epochs without improvement of the validation metric and
   * restores the best epoch's weights at the end (default: off). Needs {@link #validation}.
   */
  public StepLoop earlyStopping(EarlyStopping settings) {
    this.earlyStopping = java.util.Objects.requireNonNull(settings, "earlyStopping");
    return this;
  }

  /** Prefix of the names of the threads this loop starts (default {@code bios}). */
  public StepLoop threadPrefix(String prefix) {
    this.threadPrefix = prefix;
    return this;
  }

  /**
   * Trains until the last epoch (or {@code maxSteps}, or until early stopping decides) and reports.
   * A {@link RecordStream} source trains its first epoch on records as they arrive (see {@link
   * StreamedEpoch}).
   */
  public TrainingReport run() {
    if (used) {
      throw new IllegalStateException("a StepLoop runs once; build a new one");
    }
    used = true;
    if (earlyStopping.enabled() && validation == null) {
      throw new ai.bios.tf.InvalidSettingException("earlyStoppingPatience", earlyStopping.patience(),
          "needs validation records to watch " + earlyStopping.metric().label() + "; give the loop validation "
              + "records, or set the patience to 0");
    }
    RunShape shape = new RunShape(model, source, config, collective, stepsPerEpoch, cancellation);
    try (InputPool threads = inputThreads();
        Validation v = validation == null ? null
            : new Validation(model, validation, collective, shape.localBatch(), threads)) {
      return run(shape, new Epochs(model, v, earlyStopping), threads);
    }
  }

  /**
   * The run's input threads ({@code <threadPrefix>-input-N}) when EFFICIENT mode transforms a
   * {@link ParallelRecordSource}'s records on {@code inputThreads > 1} threads, else null (every
   * record read on the thread that builds its batch). Closed (and joined) after the feeder.
   */
  private InputPool inputThreads() {
    boolean parallel = source instanceof ParallelRecordSource || validation instanceof ParallelRecordSource;
    return config.mode() == ExecutionMode.EFFICIENT && config.inputThreads() > 1 && parallel
        ? new InputPool(config.inputThreads(), threadPrefix, cancellation) : null;
  }

  private TrainingReport run(RunShape shape, Epochs epochs, InputPool threads) {
    LossHistory losses = new LossHistory();
    long first = new Resume(model, store, collective, shape).apply(resumeFrom, losses, epochs);
    Schedule schedule = Schedule.of(config.mode());
    RunRecorder recorder = new RunRecorder(schedule, losses, first, shape.end(), shape.stepsPerEpoch() > 0);
    StepTimeline timeline = recorder.timeline();
    StepExecutor executor = new StepExecutor(model, collective, timeline);
    try {
      listener.onTimeline(timeline);
    } catch (Exception e) {
      throw new IllegalStateException("the step listener failed on the run's timeline: " + e.getMessage(), e);
    }
    recorder.start();
    epochs.start();
    long step = first;
    try (BatchAssembler assembler = new BatchAssembler(model.spec(), shape.localBatch(), model.lossOptions().sampleWeights())) {
      Schedule.Parts parts = new Schedule.Parts(config, timeline, assembler.batchBytes(), listener, threadPrefix,
          cancellation);
      try (Input input = schedule.input(new BatchProducer(source, assembler, timeline, shape, first, threads), parts);
          Reporter reporter = schedule.reporter(parts);
          Checkpointer checkpointer = store == null || !writeCheckpoints ? Checkpointer.NONE
              : schedule.checkpointer(store, reporter, parts)) {
        for (; step < shape.end() && !epochs.stopped(); step++) {
          cancellation.check();
          long begin = System.nanoTime();
          Batch batch = input.take(step);
          StepResult result = executor.run(batch, shape.votesMoreAfter(step));
          if (shape.stepsPerEpoch() < 0) {
            shape.streamed().decide(step, result.anyMore());
          }
          epochs.stepDone(result);
          reporter.report(recorder.stepDone(result, shape.epochOf(step), shape.totalSteps()));
          long unrecorded = 0;
          if (shape.stepsPerEpoch() > 0 && (step + 1) % shape.stepsPerEpoch() == 0) {
            long t0 = System.nanoTime(); // validation and the stopping decision: named work of no stage
            reporter.epochEnded(epochs.ended(shape.epochOf(step)));
            unrecorded = System.nanoTime() - t0;
          }
          // A run that stops early checkpoints its decision, so a retry does not train on.
          if (checkpointDue(step, shape) || (epochs.stopped() && config.checkpointInterval() > 0)) {
            long next = step + 1;
            unrecorded += checkpointer.checkpoint(step, () -> snapshot(shape, next, losses, epochs));
          }
          recorder.iterationDone(step, begin, unrecorded);
        }
        checkpointer.finish();
        reporter.finish();
        recorder.finished(step, input);
      }
    }
    epochs.restoreBest();
    return recorder.report(epochs);
  }

  private boolean checkpointDue(long step, RunShape shape) {
    int every = config.checkpointInterval();
    return every > 0 && ((step + 1) % every == 0 || step + 1 == shape.end());
  }

  private Checkpoint snapshot(RunShape shape, long nextStep, LossHistory losses, Epochs epochs) {
    return new Checkpoint(shape.identity(), nextStep, model.appliedSteps(), model.exportWeights(),
        model.exportOptimizerState(), losses.upTo(nextStep), epochs.state());
  }
}
