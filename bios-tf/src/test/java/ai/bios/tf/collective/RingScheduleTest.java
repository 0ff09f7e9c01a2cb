package ai.bios.tf.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import org.junit.jupiter.api.Test;

/** The ring schedule's arithmetic, checked by playing whole all-reduces out on paper (no sockets). */
class RingScheduleTest {
  private static final int[] SIZES = {1, 2, 3, 4, 5, 7};
  private static final int[] CHUNKS = {1, 3, 4, 64};

  private static RingSchedule[] ring(int size, int chunkFloats) {
    RingSchedule[] ranks = new RingSchedule[size];
    for (int r = 0; r < size; r++) {
      ranks[r] = new RingSchedule(r, size, chunkFloats);
    }
    return ranks;
  }

  private static int[] lengths(int size) {
    return new int[] {0, 1, size - 1, size, size + 1, 2 * size + 1, 64 * size, 64 * size + 1, 1000, 12_345};
  }

  /**
   * Plays one all-reduce: each element of each rank holds the set of ranks whose value it contains.
   * Checks that every frame a rank sends is exactly the frame its successor expects, that a
   * reduction never adds a rank's value twice, that after the reduce-scatter rank r holds the full
   * sum of segment r+1, and that every rank ends with every element fully reduced.
   */
  private static void play(int size, int chunkFloats, int length) {
    String where = "size " + size + ", chunk " + chunkFloats + ", length " + length;
    RingSchedule[] ranks = ring(size, chunkFloats);
    BitSet[][] held = new BitSet[size][length];
    for (int r = 0; r < size; r++) {
      for (int i = 0; i < length; i++) {
        held[r][i] = new BitSet();
        held[r][i].set(r);
      }
    }
    int steps = ranks[0].steps();
    assertEquals(2 * (size - 1), steps, where);
    for (int k = 0; k < steps; k++) {
      // All ranks send first (from the state before step k), then all receive.
      BitSet[][] sent = new BitSet[size][length];
      for (int r = 0; r < size; r++) {
        RingSchedule from = ranks[r];
        RingSchedule to = ranks[(r + 1) % size];
        int s = from.sendSegment(k);
        assertEquals(s, to.recvSegment(k), where + ": step " + k + ", rank " + r + " sends what its successor expects");
        assertEquals(from.chunks(length, s), to.chunks(length, s), where);
        for (int c = 0; c < from.chunks(length, s); c++) {
          assertEquals(from.chunkStart(length, s, c), to.chunkStart(length, s, c), where);
          assertEquals(from.chunkLength(length, s, c), to.chunkLength(length, s, c), where);
          for (int i = 0; i < from.chunkLength(length, s, c); i++) {
            int at = from.chunkStart(length, s, c) + i;
            sent[(r + 1) % size][at] = (BitSet) held[r][at].clone();
          }
        }
      }
      for (int r = 0; r < size; r++) {
        for (int i = 0; i < length; i++) {
          BitSet in = sent[r][i];
          if (in == null) {
            continue;
          }
          if (ranks[r].reduces(k)) {
            assertTrue(!in.intersects(held[r][i]), where + ": step " + k + ", rank " + r + ", element " + i
                + " would add a value twice: has " + held[r][i] + ", receives " + in);
            held[r][i].or(in);
          } else {
            held[r][i] = in;
          }
        }
      }
      if (k == size - 2) {
        for (int r = 0; r < size; r++) {
          int owned = (r + 1) % size;
          int start = ranks[r].segmentStart(length, owned);
          for (int i = start; i < start + ranks[r].segmentLength(length, owned); i++) {
            assertEquals(size, held[r][i].cardinality(), where + ": rank " + r + " owns segment " + owned
                + " after the reduce-scatter, element " + i);
          }
        }
      }
    }
    for (int r = 0; r < size; r++) {
      for (int i = 0; i < length; i++) {
        assertEquals(size, held[r][i].cardinality(), where + ": rank " + r + " ends with element " + i + " reduced");
      }
    }
  }

  @Test
  void everyElementIsReducedExactlyOnceFromEveryRankAndEveryRankEndsWithTheSum() {
    for (int size : SIZES) {
      for (int chunk : CHUNKS) {
        for (int length : lengths(size)) {
          play(size, chunk, length);
        }
      }
    }
  }

  @Test
  void segmentsTileTheBufferContiguouslyWithLengthsDifferingByAtMostOneLongestFirst() {
    for (int size : SIZES) {
      RingSchedule s = new RingSchedule(0, size, 64);
      for (int length : lengths(size)) {
        int at = 0;
        for (int seg = 0; seg < size; seg++) {
          assertEquals(at, s.segmentStart(length, seg), "size " + size + " length " + length + " segment " + seg);
          int len = s.segmentLength(length, seg);
          assertTrue(len == length / size || len == length / size + 1, "segment " + seg + " has " + len);
          if (seg > 0) {
            assertTrue(len <= s.segmentLength(length, seg - 1), "longer segments come first");
          }
          at += len;
        }
        assertEquals(length, at, "segments cover the buffer (size " + size + ", length " + length + ")");
      }
    }
  }

  @Test
  void chunksTileEachSegmentOnlyTheLastIsShortAndAnEmptySegmentIsOneEmptyChunk() {
    for (int size : SIZES) {
      for (int chunk : CHUNKS) {
        RingSchedule s = new RingSchedule(0, size, chunk);
        for (int length : lengths(size)) {
          for (int seg = 0; seg < size; seg++) {
            int n = s.chunks(length, seg);
            int at = s.segmentStart(length, seg);
            assertTrue(n >= 1);
            for (int c = 0; c < n; c++) {
              assertEquals(at, s.chunkStart(length, seg, c));
              int len = s.chunkLength(length, seg, c);
              assertTrue(len <= chunk && (len == chunk || c == n - 1), "chunk " + c + " of " + n + " has " + len);
              at += len;
            }
            assertEquals(s.segmentStart(length, seg) + s.segmentLength(length, seg), at);
            if (s.segmentLength(length, seg) == 0) {
              assertEquals(1, n, "an empty segment still moves as one (empty) frame");
            }
          }
        }
      }
    }
  }

  @Test
  void chunkBoundaries() {
    RingSchedule two = new RingSchedule(0, 2, 64);
    assertEquals(1, two.chunks(128, 0), "a segment of exactly one chunk has no empty tail chunk");
    assertEquals(64, two.chunkLength(128, 1, 0));
    assertEquals(2, two.chunks(130, 0), "one float past a chunk is a second chunk");
    assertEquals(1, two.chunkLength(130, 0, 1));
    assertEquals(64, two.chunkStart(130, 0, 1));
    assertEquals(65, two.segmentStart(130, 1));
    assertEquals(129, two.chunkStart(130, 1, 1));
  }

  @Test
  void aBufferShorterThanTheRingLeavesTrailingSegmentsEmpty() {
    RingSchedule s = new RingSchedule(2, 5, 4);
    assertArrayEquals(new int[] {1, 1, 1, 0, 0},
        new int[] {s.segmentLength(3, 0), s.segmentLength(3, 1), s.segmentLength(3, 2), s.segmentLength(3, 3),
            s.segmentLength(3, 4)});
    assertEquals(3, s.segmentStart(3, 3));
    assertEquals(3, s.segmentStart(3, 4));
    assertEquals(0, s.chunkLength(3, 4, 0));
    assertEquals(2 * 4, s.totalChunks(3), "one frame per step, even for empty segments");
  }

  @Test
  void theSendAndReceiveOrderOfFourWorkers() {
    RingSchedule s = new RingSchedule(0, 4, 64);
    int[] send = new int[s.steps()];
    int[] recv = new int[s.steps()];
    for (int k = 0; k < s.steps(); k++) {
      send[k] = s.sendSegment(k);
      recv[k] = s.recvSegment(k);
    }
    assertArrayEquals(new int[] {0, 3, 2, 1, 0, 3}, send);
    assertArrayEquals(new int[] {3, 2, 1, 0, 3, 2}, recv);
    for (int k = 1; k < s.steps(); k++) {
      assertEquals(recv[k - 1], send[k], "a rank forwards what it received at the step before");
    }
    assertTrue(s.reduces(2) && !s.reduces(3));
  }

  @Test
  void aSingleWorkerHasNoSteps() {
    RingSchedule s = new RingSchedule(0, 1, 64);
    assertEquals(0, s.steps());
    assertEquals(0, s.totalChunks(1000));
    assertEquals(0, s.sequenceAdvance(1000));
    assertEquals(1000, s.segmentLength(1000, 0));
  }

  @Test
  void framesReceivedBeforeEachStepCountTheEarlierSteps() {
    RingSchedule s = new RingSchedule(1, 3, 64);
    // 193 floats: segments of 65, 64, 64 floats, so 2, 1, 1 chunks; rank 1 receives 0, 2, 1, 0.
    assertEquals(0, s.chunksReceivedBefore(193, 0));
    assertEquals(2, s.chunksReceivedBefore(193, 1));
    assertEquals(3, s.chunksReceivedBefore(193, 2));
    assertEquals(4, s.chunksReceivedBefore(193, 3));
    assertEquals(6, s.totalChunks(193));
  }

  @Test
  void everyRankAdvancesItsSequenceByTheSameCountAtLeastItsOwnFrames() {
    for (int size : SIZES) {
      for (int chunk : CHUNKS) {
        RingSchedule[] ranks = ring(size, chunk);
        for (int length : lengths(size)) {
          long advance = ranks[0].sequenceAdvance(length);
          long most = 0;
          boolean even = true;
          for (RingSchedule r : ranks) {
            assertEquals(advance, r.sequenceAdvance(length), "the same on every rank");
            most = Math.max(most, r.totalChunks(length));
            even &= r.totalChunks(length) == ranks[0].totalChunks(length);
          }
          assertEquals(most, advance, "size " + size + " chunk " + chunk + " length " + length);
          if (even) {
            assertEquals(ranks[0].totalChunks(length), advance, "unchanged where the ranks agree");
          }
        }
      }
    }
    // The case where they do not: 3 ranks, segments of 2, 1, 1 chunks.
    RingSchedule[] three = ring(3, 64);
    assertEquals(5, three[0].totalChunks(193));
    assertEquals(6, three[1].totalChunks(193));
    assertEquals(6, three[2].sequenceAdvance(193));
  }

  @Test
  void refusesARankOutsideTheRingAndAnEmptyChunk() {
    assertThrows(IllegalArgumentException.class, () -> new RingSchedule(3, 3, 64));
    assertThrows(IllegalArgumentException.class, () -> new RingSchedule(-1, 3, 64));
    assertThrows(IllegalArgumentException.class, () -> new RingSchedule(0, 3, 0));
  }
}
