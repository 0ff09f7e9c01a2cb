package ai.bios.tf.collective;

/** The collective of a single worker: the sum over one worker is its own buffer. */
public final class LocalCollective implements Collective {
  @Override
  public int rank() {
    return 0;
  }

  @Override
  public int size() {
    return 1;
  }

  @Override
  public void allReduce(float[] data, int offset, int length) {
    if (offset < 0 || length < 0 || offset + length > data.length) {
      throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + length)
          + ") of a buffer of " + data.length);
    }
  }

  @Override
  public void allReduceStats(double[] stats) {}

  @Override
  public void close() {}
}
