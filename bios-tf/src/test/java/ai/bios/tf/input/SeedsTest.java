package ai.bios.tf.input;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The seed-mixing function: pinned values, so seeds derived from it never change between versions. */
class SeedsTest {

  @Test
  void mixIsSplitMix64sFinaliserPinned() {
    assertEquals(0L, Seeds.mix(0));
    assertEquals(6238072747940578789L, Seeds.mix(1));
    assertEquals(-2622165800321222925L, Seeds.mix(-7));
  }

  @Test
  void combineMixesEachPartInTurnPinned() {
    // A transform's seed of (fit seed 11, epoch 3, row 37 of input partition 2), as Bios has always drawn it.
    assertEquals(1678877697756197035L, Seeds.combine(11, 3, (2L << 32) | 37));
    assertEquals(Seeds.mix(Seeds.mix(11 + Seeds.GAMMA) + 3 + Seeds.GAMMA), Seeds.combine(11, 3));
    assertEquals(0L, Seeds.combine());
  }
}
