package ai.bios.tf.collective;

/**
 * The arithmetic of one worker's ring all-reduce, with no I/O: which segment it sends and
 * receives at each step, where the segments of a buffer lie, and how each segment is cut into
 * chunks.
 *
 * <p>A buffer of {@code length} floats is split into {@code size} contiguous segments whose lengths
 * differ by at most one (the longer ones first). Steps {@code 0 .. size-2} are the reduce-scatter:
 * at step {@code k} rank {@code r} sends segment {@code r-k} and receives segment {@code r-k-1},
 * adding its own values to what it receives; after them rank {@code r} holds the full sum of
 * segment {@code r+1}. Steps {@code size-1 .. 2(size-1)-1} are the all-gather: the reduced segments
 * travel once more around the ring and are copied. All segment numbers are modulo {@code size}.
 * What a rank sends at step {@code k > 0} is what it received at step {@code k-1}.
 *
 * <p>Every segment moves in chunks of at most {@code chunkFloats}; an empty segment still moves as
 * one empty chunk, so every step has at least one frame and the schedule is the same on every
 * worker. Offsets returned here are relative to the start of the reduced range.
 */
final class RingSchedule {
  private final int rank;
  private final int size;
  private final int chunkFloats;

  RingSchedule(int rank, int size, int chunkFloats) {
    if (size < 1 || rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " outside [0, " + size + ")");
    }
    if (chunkFloats < 1) {
      throw new IllegalArgumentException("chunkFloats must be >= 1, was " + chunkFloats);
    }
    this.rank = rank;
    this.size = size;
    this.chunkFloats = chunkFloats;
  }

  /** Steps of one all-reduce: {@code 2(size-1)}, none for a single worker. */
  int steps() {
    return 2 * (size - 1);
  }

  /** Whether step {@code k} adds what it receives (reduce-scatter) rather than copying it (all-gather). */
  boolean reduces(int k) {
    return k < size - 1;
  }

  /** The segment this rank sends at step {@code k}. */
  int sendSegment(int k) {
    int s = k < size - 1 ? rank - k : rank + 1 - (k - (size - 1));
    return Math.floorMod(s, size);
  }

  /** The segment this rank receives at step {@code k}. */
  int recvSegment(int k) {
    int s = k < size - 1 ? rank - k - 1 : rank - (k - (size - 1));
    return Math.floorMod(s, size);
  }

  /** Where segment {@code s} of a {@code length}-float buffer starts. */
  int segmentStart(int length, int s) {
    int base = length / size;
    int rem = length % size;
    return s * base + Math.min(s, rem);
  }

  /** How many floats segment {@code s} of a {@code length}-float buffer holds. */
  int segmentLength(int length, int s) {
    return length / size + (s < length % size ? 1 : 0);
  }

  /** Chunks of segment {@code s}: at least one (possibly empty), so the schedule stays uniform. */
  int chunks(int length, int s) {
    return Math.max(1, (segmentLength(length, s) + chunkFloats - 1) / chunkFloats);
  }

  /** Where chunk {@code c} of segment {@code s} starts. */
  int chunkStart(int length, int s, int c) {
    return segmentStart(length, s) + c * chunkFloats;
  }

  /** How many floats chunk {@code c} of segment {@code s} holds. */
  int chunkLength(int length, int s, int c) {
    return Math.max(0, Math.min(chunkFloats, segmentLength(length, s) - c * chunkFloats));
  }

  /** Chunks this rank receives before step {@code k} (the frames of steps {@code 0 .. k-1}). */
  long chunksReceivedBefore(int length, int k) {
    long n = 0;
    for (int i = 0; i < k; i++) {
      n += chunks(length, recvSegment(i));
    }
    return n;
  }

  /** Frames this rank receives in one all-reduce (its predecessor sends exactly these). */
  long totalChunks(int length) {
    return chunksReceivedBefore(length, steps());
  }

  /**
   * How far every rank advances its frame sequence number per all-reduce: the most frames any
   * rank receives, the same number on every rank, so that sender and receiver of each connection
   * agree on the next all-reduce's first sequence number even when the segments' chunk counts
   * differ (a rank's own {@link #totalChunks} does not: it misses the chunks of its own segment and
   * its successor's, which differ from rank to rank). Equals {@link #totalChunks} when every
   * segment has the same number of chunks.
   */
  long sequenceAdvance(int length) {
    if (size == 1) {
      return 0;
    }
    long all = 0;
    long leastPair = Long.MAX_VALUE;
    for (int s = 0; s < size; s++) {
      all += chunks(length, s);
      leastPair = Math.min(leastPair, chunks(length, s) + chunks(length, (s + 1) % size));
    }
    return 2 * all - leastPair;
  }
}
