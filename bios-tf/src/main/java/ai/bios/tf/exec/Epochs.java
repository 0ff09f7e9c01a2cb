package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import ai.bios.tf.model.TrainableModel;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The run's per-epoch record: the training loss summed over each epoch's steps, the validation
 * metrics at each epoch's end, the history of {@link EpochMetrics}, and early stopping (its {@link
 * StoppingRule} and, when on, a copy of the best epoch's weights, restored when the run ends).
 *
 * <p>Its state travels in checkpoints ({@link #state()}, {@link #restore}), so a run resumed
 * anywhere, even mid-epoch, continues the same sums and the same decision. Used by the training
 * loop's thread only.
 */
final class Epochs {
  private static final int FORMAT = 1;

  private final TrainableModel model;
  private final Validation validation;
  private final EarlyStopping stopping;
  private final StoppingRule rule;
  private final List<EpochMetrics> history = new ArrayList<>();
  private double lossSum;
  private long samples;
  private double weightSum; // the steps' loss weights (their samples without weights): the train loss divides by it
  private double secondsBefore; // of the current epoch, before a resume
  private long epochStart = System.nanoTime();
  private float[] bestWeights = new float[0];

  /** @param validation the validation records' evaluator, or null without validation */
  Epochs(TrainableModel model, Validation validation, EarlyStopping stopping) {
    this.model = model;
    this.validation = validation;
    this.stopping = stopping;
    this.rule = new StoppingRule(stopping);
  }

  /** The run's clock starts (or restarts, after a resume). */
  void start() {
    epochStart = System.nanoTime();
  }

  void stepDone(StepResult r) {
    lossSum += r.loss() * r.weight();
    weightSum += r.weight();
    samples += r.samples();
  }

  /** Epoch {@code epoch} has ended: validates, records it, decides whether to stop; returns its record. */
  EpochMetrics ended(int epoch) {
    Validation.Metrics v = validation == null ? new Validation.Metrics(Double.NaN, Double.NaN, Double.NaN, 0)
        : validation.evaluate();
    long now = System.nanoTime();
    EpochMetrics m = new EpochMetrics(epoch, samples == 0 ? Double.NaN : lossSum / weightSum, samples,
        v.loss(), v.accuracy(), v.auc(), v.records(),
        model.optimizer().learningRateAt(Math.max(0, model.appliedSteps() - 1)), // the rate of its last step
        secondsBefore + (now - epochStart) / 1e9);
    history.add(m);
    if (stopping.enabled() && rule.observe(epoch, stopping.metric().of(m))) {
      bestWeights = model.exportWeights();
    }
    lossSum = 0;
    samples = 0;
    weightSum = 0;
    secondsBefore = 0;
    epochStart = now;
    return m;
  }

  /** Whether early stopping has decided the run ends. */
  boolean stopped() {
    return rule.stopped();
  }

  /** The epoch early stopping judged best, or -1. */
  int bestEpoch() {
    return rule.state().bestEpoch();
  }

  List<EpochMetrics> history() {
    return Collections.unmodifiableList(new ArrayList<>(history));
  }

  /** With early stopping on: puts the best epoch's weights back into the model. */
  void restoreBest() {
    if (stopping.enabled() && bestWeights.length > 0) {
      model.importWeights(bestWeights);
    }
  }

  /** Everything a checkpoint needs to continue this record exactly. */
  byte[] state() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(256 + 4 * bestWeights.length);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(FORMAT);
      out.writeUTF(stopping.toString());
      out.writeInt(history.size());
      for (EpochMetrics m : history) {
        out.writeInt(m.epoch());
        out.writeDouble(m.trainLoss());
        out.writeLong(m.records());
        out.writeDouble(m.valLoss());
        out.writeDouble(m.valAccuracy());
        out.writeDouble(m.valAuc());
        out.writeLong(m.validationRecords());
        out.writeDouble(m.learningRate());
        out.writeDouble(m.seconds());
      }
      out.writeDouble(lossSum);
      out.writeLong(samples);
      out.writeDouble(secondsBefore + (System.nanoTime() - epochStart) / 1e9);
      StoppingRule.State s = rule.state();
      out.writeDouble(s.bestValue());
      out.writeInt(s.bestEpoch());
      out.writeInt(s.epochsWithoutImprovement());
      out.writeBoolean(s.stopped());
      out.writeInt(bestWeights.length);
      for (float w : bestWeights) {
        out.writeFloat(w);
      }
      out.writeDouble(weightSum); // last: a state written before weights ends without it
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /**
   * Continues from {@code state} (empty: a checkpoint written before epochs were recorded, so the
   * history restarts here); {@code where} names the checkpoint in errors.
   */
  void restore(byte[] state, String where) {
    if (state.length == 0) {
      return;
    }
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(state))) {
      int format = in.readInt();
      if (format != FORMAT) {
        throw new BiosException("checkpoint " + where + " records its epochs in format " + format
            + "; this Bios reads format " + FORMAT);
      }
      String settings = in.readUTF();
      if (!settings.equals(stopping.toString())) {
        throw new BiosException("checkpoint " + where + " was written with " + settings + ", but this run has "
            + stopping + "; resume with the same early-stopping settings, or point checkpointDir at an empty "
            + "directory");
      }
      history.clear();
      for (int i = in.readInt(); i > 0; i--) {
        history.add(new EpochMetrics(in.readInt(), in.readDouble(), in.readLong(), in.readDouble(),
            in.readDouble(), in.readDouble(), in.readLong(), in.readDouble(), in.readDouble()));
      }
      lossSum = in.readDouble();
      samples = in.readLong();
      secondsBefore = in.readDouble();
      rule.restore(new StoppingRule.State(in.readDouble(), in.readInt(), in.readInt(), in.readBoolean()));
      float[] best = new float[in.readInt()];
      for (int i = 0; i < best.length; i++) {
        best[i] = in.readFloat();
      }
      bestWeights = best;
      weightSum = in.available() >= 8 ? in.readDouble() : samples;
    } catch (IOException e) {
      throw new BiosException("checkpoint " + where + " has a damaged epoch record: " + e, e);
    }
  }
}
