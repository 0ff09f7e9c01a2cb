package ai.bios.tf.checkpoint;

import ai.bios.tf.BiosException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What makes two runs the same run; a checkpoint only resumes a run with the same identity.
 * {@code stepsPerEpoch} is -1 when it is not known: in a checkpoint written while a streamed first
 * epoch was still running, or in an identity built before training (not compared then).
 * {@code firstEpochWindow} is the window a streamed first epoch draws records from (1: arrival
 * order), or 0 when the first epoch is not streamed; it decides the first epoch's order, so resuming
 * inside that epoch needs the same one.
 *
 * @param workers the number of workers (the user's {@code numWorkers})
 */
public record RunIdentity(String modelSpecJson, String optimizer, int batchSize, long seed,
    boolean shuffle, int workers, int stepsPerEpoch, int firstEpochWindow) {

  /** A run whose first epoch is not streamed. */
  public RunIdentity(String modelSpecJson, String optimizer, int batchSize, long seed, boolean shuffle,
      int workers, int stepsPerEpoch) {
    this(modelSpecJson, optimizer, batchSize, seed, shuffle, workers, stepsPerEpoch, 0);
  }

  /** One setting in which a stored identity differs from the wanted one, named as the user knows it. */
  public record Difference(String field, Object stored, Object wanted) {
    @Override
    public String toString() {
      return "its " + field + " is " + stored + ", this run's is " + wanted;
    }
  }

  /**
   * The settings in which this (stored) identity differs from {@code wanted}. Steps per epoch are
   * compared only when both are known (>= 0). The first epoch's window is compared only when this
   * identity was taken inside a streamed first epoch ({@code stepsPerEpoch} -1) and {@code wanted}
   * streams its first epoch: only then does the order of that epoch have to replay.
   */
  public List<Difference> differences(RunIdentity wanted) {
    List<Difference> out = new ArrayList<>();
    add(out, "model spec", modelSpecJson, wanted.modelSpecJson);
    add(out, "optimizer (with loss settings)", optimizer, wanted.optimizer);
    add(out, "batchSize", batchSize, wanted.batchSize);
    add(out, "seed", seed, wanted.seed);
    add(out, "shuffle", shuffle, wanted.shuffle);
    add(out, "numWorkers", workers, wanted.workers);
    if (stepsPerEpoch >= 0 && wanted.stepsPerEpoch >= 0) {
      add(out, "steps per epoch (data size)", stepsPerEpoch, wanted.stepsPerEpoch);
    }
    if (stepsPerEpoch < 0 && wanted.firstEpochWindow > 0 && firstEpochWindow != wanted.firstEpochWindow) {
      out.add(new Difference("first epoch's order (shuffleWindow, or arrival order without shuffle)",
          window(firstEpochWindow), window(wanted.firstEpochWindow)));
    }
    return out;
  }

  /**
   * Throws a {@link BiosException} naming every differing setting, both values and the fix, unless
   * {@code wanted} is the same run. {@code checkpoint} names the stored checkpoint, e.g.
   * {@code "checkpoint /data/ckpt (step 20)"}.
   */
  public void requireSameRun(RunIdentity wanted, String checkpoint) {
    List<Difference> differences = differences(wanted);
    if (!differences.isEmpty()) {
      throw new BiosException(mismatch(checkpoint, differences));
    }
  }

  /** The message for a checkpoint {@code checkpoint} whose identity has {@code differences}. */
  public static String mismatch(String checkpoint, List<Difference> differences) {
    return checkpoint + " belongs to a different run: "
        + differences.stream().map(Difference::toString).collect(Collectors.joining("; "))
        + "; use the same settings to resume it, or point checkpointDir at an empty directory to start afresh";
  }

  private static void add(List<Difference> out, String field, Object stored, Object wanted) {
    if (!stored.equals(wanted)) {
      out.add(new Difference(field, stored, wanted));
    }
  }

  private static String window(int window) {
    return window == 0 ? "not streamed" : window == 1 ? "arrival order" : "drawn from a window of " + window + " records";
  }
}
