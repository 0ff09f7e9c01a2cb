package ai.bios.tf.collective;

/**
 * Sums gradient buffers across the workers of one training run. Every worker calls
 * {@link #allReduce} once per step with a buffer of the same length; when it returns, every
 * worker's buffer holds the element-wise sum over all workers, and {@code stats} the sums of the
 * per-worker statistics (loss sum, sample count). Summation order is fixed by the implementation,
 * so the same run twice gives bitwise-identical sums.
 *
 * <p>Implementations move data in chunks (see {@link #allReduce(float[], int, int)}) so that
 * transfers of one chunk overlap the reduction of another; callers that produce gradients in
 * pieces may reduce each piece as soon as it is ready.
 *
 * <p>Every wait has a timeout; a peer that dies or stalls makes {@code allReduce} fail with an
 * exception naming the peer's rank and what was awaited, never hang.
 */
public interface Collective extends AutoCloseable {

  /** This worker's rank, {@code 0 <= rank < size}. */
  int rank();

  /** Number of workers. */
  int size();

  /** Sums {@code data[offset, offset + length)} element-wise across workers, in place. */
  void allReduce(float[] data, int offset, int length);

  /** Sums the whole buffer and the statistics across workers, in place. */
  default void allReduce(float[] data, double[] stats) {
    allReduce(data, 0, data.length);
    allReduceStats(stats);
  }

  /** Sums small per-worker statistics (loss sum, sample count) exactly, in double precision. */
  void allReduceStats(double[] stats);

  /** Releases sockets and threads. Idempotent. */
  @Override
  void close();
}
