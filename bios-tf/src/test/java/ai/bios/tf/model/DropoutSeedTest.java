package ai.bios.tf.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** Dropout seeds go through the shared Seeds.mix and keep their values (pinned before the move). */
class DropoutSeedTest {

  @Test
  void dropoutSeedOfModelSeedStepRankIsPinned() {
    assertArrayEquals(new long[] {7299017804910825406L, -3698638550140263630L}, Layers.dropoutSeed(5, 9, 1));
  }
}
