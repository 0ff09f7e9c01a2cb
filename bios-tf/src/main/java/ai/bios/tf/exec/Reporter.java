package ai.bios.tf.exec;

import ai.bios.tf.BiosException;

/** Delivers finished steps, epochs and written checkpoints to the {@link StepListener}, in order. */
interface Reporter extends AutoCloseable {
  void report(StepMetrics m);

  void checkpointed(long step);

  void epochEnded(EpochMetrics epoch);

  /** Delivers everything reported so far; rethrows the listener's failure. */
  void finish();

  @Override
  void close();

  /** One call into the listener. */
  @FunctionalInterface
  interface ListenerCall {
    void call() throws Exception;
  }

  /** Runs {@code call}; a checked exception from the listener becomes a {@link BiosException}. */
  static void deliver(ListenerCall call) {
    try {
      call.call();
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new BiosException("the step listener failed: " + e, e);
    }
  }
}
