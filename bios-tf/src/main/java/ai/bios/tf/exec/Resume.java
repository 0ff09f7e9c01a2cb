package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import ai.bios.tf.checkpoint.Checkpoint;
import ai.bios.tf.checkpoint.CheckpointStore;
import ai.bios.tf.collective.Collective;
import ai.bios.tf.model.TrainableModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Optional;

/**
 * Where a run starts: afresh, or from a checkpoint of the same run. Loads the checkpoint's weights,
 * optimizer state, loss history and epoch record (history and early-stopping state), and positions a streamed first epoch: inside it, the arrivals
 * of the steps already taken are replayed; past it, the whole stream is read and the workers check
 * together (one stats all-reduce) that the data still makes the checkpoint's steps per epoch.
 *
 * <p>Runs on the loop's thread before any other thread of the run starts. Every worker of a run
 * reads the same checkpoint (one writes, all read), so they all resume from the same state.
 */
final class Resume {
  private final TrainableModel model;
  private final CheckpointStore store;
  private final Collective collective;
  private final RunShape shape;

  Resume(TrainableModel model, CheckpointStore store, Collective collective, RunShape shape) {
    this.model = model;
    this.store = store;
    this.collective = collective;
    this.shape = shape;
  }

  /**
   * Loads the checkpoint of step {@code resumeFrom} ({@code > 0}), or the newest ({@code -1}), or
   * none ({@code 0}); returns the first step to run.
   */
  long apply(long resumeFrom, LossHistory losses, Epochs epochs) {
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
    c.requireCompatible(shape.identity(), where);
    int steps = c.identity().stepsPerEpoch();
    StreamedEpoch streamed = shape.streamed();
    if (streamed != null) {
      if (steps > 0 && c.nextStep() >= steps) {
        agreeOnEpochLength(streamed, steps, where);
      } else {
        replayFirstEpoch(streamed, c, where);
      }
    }
    long end = shape.endFor(steps > 0 ? steps : shape.stepsPerEpoch());
    if (c.nextStep() > end) {
      throw new BiosException("checkpoint in " + store.location() + " is at step " + c.nextStep()
          + ", past this run's " + end + " steps; raise epochs or use another checkpointDir");
    }
    model.importWeights(c.weights());
    model.importOptimizerState(c.optimizerState(), c.appliedSteps());
    losses.restore(c.lossHistory());
    epochs.restore(c.loopState(), where);
    return c.nextStep();
  }

  /** Past the first epoch: every worker reads its whole stream and checks it still makes {@code steps}. */
  private void agreeOnEpochLength(StreamedEpoch streamed, int steps, String where) {
    int mine = streamed.drain();
    double[] agree = {mine == steps ? 1 : 0, mine > steps ? 1 : 0};
    collective.allReduceStats(agree);
    if (agree[0] < 1 || agree[1] > 0) {
      throw new BiosException("checkpoint " + where + " was trained with " + steps + " steps per epoch, but "
          + "the training data now makes " + (agree[1] > 0 ? "more" : "fewer") + " (this worker: " + mine
          + "): the data changed; train on the same data to resume, or point checkpointDir at an empty directory");
    }
    streamed.known(steps);
  }

  /**
   * Inside the first epoch: replay its arrivals, which only reproduces its order if the
   * checkpoint's first epoch was streamed through the same window.
   */
  private void replayFirstEpoch(StreamedEpoch streamed, Checkpoint c, String where) {
    int window = c.identity().firstEpochWindow();
    int mine = shape.firstEpochWindow();
    if (window != mine) {
      throw new BiosException("checkpoint " + where + " was taken inside a first epoch "
          + (window == 0 ? "that was not streamed" : "drawn from a window of " + window + " records")
          + ", but this run " + (mine == 1 ? "streams it in arrival order" : "draws it from a window of " + mine)
          + "; resume with the same shuffleWindow (and shuffle), or point checkpointDir at an empty directory");
    }
    streamed.skip(c.nextStep());
    streamed.resumedAt(c.nextStep()); // the steps before it were voted "the epoch goes on"
  }
}
