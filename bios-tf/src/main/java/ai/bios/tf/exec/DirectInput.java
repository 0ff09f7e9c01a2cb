package ai.bios.tf.exec;

import ai.bios.tf.BiosException;
import ai.bios.tf.input.Batch;

/** SIMPLE: the loop builds each batch when it needs it, on its own thread. */
final class DirectInput implements Input {
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
