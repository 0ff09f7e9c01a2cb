package ai.bios.tf.exec;

import ai.bios.tf.BiosException;

/**
 * The early-stopping decision, a pure function of the epochs' metric values: an epoch improves
 * when its value beats the best so far by more than {@code minDelta} (lower for a loss, higher for
 * accuracy and AUC; the first epoch always improves); the run stops once {@code patience} epochs in
 * a row have not improved. Every worker feeds it the same all-reduced numbers, so every worker
 * decides the same at the same step, with no extra exchange.
 *
 * <p>Its whole state is a {@link State}, which checkpoints carry so a resumed run decides as the
 * uninterrupted one would. Used by the training loop's thread only.
 */
final class StoppingRule {
  private final EarlyStopping settings;
  private State state = State.INITIAL;

  /**
   * @param bestValue the best value so far (NaN before the first epoch)
   * @param bestEpoch the epoch that reached it (-1 before the first epoch)
   * @param epochsWithoutImprovement epochs since the best one
   * @param stopped whether the run has decided to stop
   */
  record State(double bestValue, int bestEpoch, int epochsWithoutImprovement, boolean stopped) {
    static final State INITIAL = new State(Double.NaN, -1, 0, false);
  }

  StoppingRule(EarlyStopping settings) {
    this.settings = settings;
  }

  State state() {
    return state;
  }

  void restore(State s) {
    this.state = s;
  }

  boolean stopped() {
    return state.stopped();
  }

  /**
   * Takes epoch {@code epoch}'s value of the metric; returns whether it is the new best. A value
   * that is not a number fails the run, saying why the metric is undefined.
   */
  boolean observe(int epoch, double value) {
    if (Double.isNaN(value)) {
      ValidationMetric m = settings.metric();
      throw new BiosException("early stopping watches " + m.label() + ", but epoch " + epoch + " has no "
          + m.label() + ": " + switch (m) {
            case VAL_LOSS -> "there are no validation records";
            case VAL_ACCURACY -> "there are no validation records, or the model is a regression";
            case VAL_AUC -> "there are no validation records, the model is not a binary classifier, or the "
                + "validation records hold one class only";
          } + "; hold out validation rows or pick another earlyStoppingMetric");
    }
    boolean better = state.bestEpoch() < 0
        || (settings.metric().higherIsBetter() ? value > state.bestValue() + settings.minDelta()
            : value < state.bestValue() - settings.minDelta());
    int waited = better ? 0 : state.epochsWithoutImprovement() + 1;
    state = new State(better ? value : state.bestValue(), better ? epoch : state.bestEpoch(), waited,
        settings.enabled() && waited >= settings.patience());
    return better;
  }
}
