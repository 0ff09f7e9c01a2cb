package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import ai.bios.tf.checkpoint.RunIdentity;
import ai.bios.tf.concurrent.Cancellation;
import ai.bios.tf.collective.Collective;
import ai.bios.tf.input.RecordSource;
import ai.bios.tf.input.RecordStream;
import ai.bios.tf.model.TrainableModel;

/**
 * The arithmetic of one worker's run: its share of the global batch, the steps per epoch (fixed
 * up front, or voted while a streamed first epoch runs), where the run ends, the data plan, and
 * the identity checkpoints record. Pure bookkeeping: it starts no thread and holds no resource.
 */
final class RunShape {
  private final TrainableModel model;
  private final RecordSource source;
  private final TrainingConfig config;
  private final Collective collective;
  private final int localBatch;
  private final StreamedEpoch streamed;
  private final int fixedSteps;

  /**
   * @param agreedSteps steps per epoch agreed by all workers, or -1 for what this worker's records
   *     need (a {@link RecordStream} source learns it by vote instead)
   */
  RunShape(TrainableModel model, RecordSource source, TrainingConfig config, Collective collective,
      int agreedSteps, Cancellation cancellation) {
    this.model = model;
    this.source = source;
    this.config = config;
    this.collective = collective;
    this.localBatch = config.localBatchSize(collective.rank(), collective.size());
    if (localBatch < 1) {
      throw new BiosException("batchSize " + config.batchSize() + " is smaller than the "
          + collective.size() + " workers; raise batchSize to at least numWorkers");
    }
    if (source instanceof RecordStream stream) {
      if (agreedSteps > 0) {
        throw new IllegalStateException("stepsPerEpoch is agreed while a RecordStream's first epoch runs; "
            + "do not set it");
      }
      this.streamed = new StreamedEpoch(stream, localBatch, firstEpochWindow(), config.seed(), collective.rank(),
          config.inputTimeout(), cancellation);
      this.fixedSteps = -1;
    } else {
      this.streamed = null;
      this.fixedSteps = agreedSteps > 0 ? agreedSteps : DataPlan.stepsFor(source.size(), localBatch);
      if (fixedSteps == 0) {
        throw new BiosException("no training data: the record source is empty on every worker; "
            + "check the input (an empty DataFrame or a filter that drops every row)");
      }
    }
  }

  int localBatch() {
    return localBatch;
  }

  /** The streamed first epoch, or null when the source is complete. */
  StreamedEpoch streamed() {
    return streamed;
  }

  /** Steps per epoch, or -1 while a streamed first epoch has not ended. */
  int stepsPerEpoch() {
    return streamed != null ? streamed.stepsPerEpoch() : fixedSteps;
  }

  /** Whether this worker votes, with the step's aggregation, that the first epoch goes on after {@code step}. */
  boolean votesMoreAfter(long step) {
    return stepsPerEpoch() < 0 && streamed.moreAfter(step);
  }

  /** The window a streamed first epoch draws from (1: arrival order), or 0 when the source is complete. */
  int firstEpochWindow() {
    return !(source instanceof RecordStream) ? 0 : config.shuffle() ? config.shuffleWindow() : 1;
  }

  DataPlan planFor(int steps) {
    return new DataPlan(source.size(), localBatch, steps, config.seed(), collective.rank(), config.shuffle());
  }

  /** The run's step count for {@code steps} per epoch. */
  long totalFor(int steps) {
    return config.totalSteps(steps);
  }

  /** The step the run ends before, as far as known: {@code stepsPerEpoch} -1 means not known yet. */
  long endFor(int stepsPerEpoch) {
    return stepsPerEpoch > 0 ? totalFor(stepsPerEpoch)
        : config.maxSteps() > 0 ? config.maxSteps() : Long.MAX_VALUE;
  }

  /** The step the run ends before, as far as known now. */
  long end() {
    return endFor(stepsPerEpoch());
  }

  /** The run's step count, or -1 while it is not known. */
  long totalSteps() {
    int steps = stepsPerEpoch();
    return steps > 0 ? totalFor(steps) : -1;
  }

  int epochOf(long step) {
    int steps = stepsPerEpoch();
    return steps > 0 ? (int) (step / steps) : 0;
  }

  /** The run's identity as checkpoints record it ({@code stepsPerEpoch} -1 while a streamed first epoch runs). */
  RunIdentity identity() {
    return new RunIdentity(model.spec().toJson(), model.lossOptions().identityWith(model.optimizer().toString()),
        config.batchSize(), config.seed(), config.shuffle(), collective.size(), stepsPerEpoch(), firstEpochWindow());
  }
}
