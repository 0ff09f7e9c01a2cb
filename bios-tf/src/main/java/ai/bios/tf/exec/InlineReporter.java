package ai.bios.tf.exec;

/** SIMPLE: the loop calls the listener itself; the call is the step's REPORT stage. */
final class InlineReporter implements Reporter {
  private final StepListener listener;
  private final StepTimeline timeline;

  InlineReporter(StepListener listener, StepTimeline timeline) {
    this.listener = listener;
    this.timeline = timeline;
  }

  @Override
  public void report(StepMetrics m) {
    long t0 = System.nanoTime();
    Reporter.deliver(() -> listener.onStep(m));
    timeline.record(m.step(), Stage.REPORT, t0, System.nanoTime());
  }

  @Override
  public void epochEnded(EpochMetrics epoch) {
    Reporter.deliver(() -> listener.onEpoch(epoch));
  }

  @Override
  public void checkpointed(long step) {
    Reporter.deliver(() -> listener.onCheckpoint(step));
  }

  @Override
  public void finish() {}

  @Override
  public void close() {}
}
