package ai.bios.examples;

import ai.bios.tf.exec.StepListener;
import ai.bios.tf.exec.StepMetrics;
import java.io.PrintStream;
import java.util.Locale;

/** Prints a progress line at most every {@code everyMillis}, and on the last step. */
final class ConsoleProgress implements StepListener {
  private final PrintStream out;
  private final long everyNanos;
  private long lastPrint;

  ConsoleProgress(PrintStream out, long everyMillis) {
    this.out = out;
    this.everyNanos = everyMillis * 1_000_000L;
  }

  @Override
  public void onStep(StepMetrics m) {
    boolean last = m.step() + 1 == m.totalSteps();
    if (!last && m.elapsedNanos() - lastPrint < everyNanos) {
      return;
    }
    lastPrint = m.elapsedNanos();
    if (m.totalSteps() < 0) { // a streamed first epoch: its length is not known yet
      out.printf(Locale.ROOT, "epoch 1  step %d/?  loss %.4f  %.0f samples/s%n",
          m.step() + 1, m.loss(), m.samplesPerSecond());
      return;
    }
    double done = (m.step() + 1) / (double) m.totalSteps();
    double etaSeconds = m.elapsedNanos() / 1e9 * (1 - done) / Math.max(done, 1e-9);
    out.printf(Locale.ROOT, "epoch %d  step %d/%d  loss %.4f  %.0f samples/s  ETA %.0fs%n",
        m.epoch() + 1, m.step() + 1, m.totalSteps(), m.loss(), m.samplesPerSecond(), etaSeconds);
  }
}
