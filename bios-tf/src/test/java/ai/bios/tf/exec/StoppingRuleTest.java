package ai.bios.tf.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.BiosException;
import ai.bios.tf.InvalidSettingException;
import org.junit.jupiter.api.Test;

/** The early-stopping rule on its own, with exact cases: improvement, direction, minDelta, patience, state. */
class StoppingRuleTest {

  /** Feeds {@code values} from epoch 0 until the rule stops; returns the epoch it stopped at, or -1. */
  private static int stopEpoch(StoppingRule rule, double... values) {
    for (int e = 0; e < values.length; e++) {
      rule.observe(e, values[e]);
      if (rule.stopped()) {
        return e;
      }
    }
    return -1;
  }

  @Test
  void aLossStopsAfterPatienceEpochsWithoutImprovementAndKeepsTheBestEpoch() {
    StoppingRule rule = new StoppingRule(new EarlyStopping(ValidationMetric.VAL_LOSS, 2, 0));
    assertEquals(3, stopEpoch(rule, 1.0, 0.9, 0.95, 0.91, 0.5));
    assertEquals(1, rule.state().bestEpoch());
    assertEquals(0.9, rule.state().bestValue());
    assertEquals(2, rule.state().epochsWithoutImprovement());
  }

  @Test
  void anImprovementResetsThePatience() {
    StoppingRule rule = new StoppingRule(new EarlyStopping(ValidationMetric.VAL_LOSS, 2, 0));
    assertEquals(-1, stopEpoch(rule, 1.0, 1.1, 0.8, 0.9, 0.7, 0.75));
    assertEquals(4, rule.state().bestEpoch());
    assertEquals(1, rule.state().epochsWithoutImprovement());
  }

  @Test
  void accuracyAndAucImproveUpwardsAndATieIsNoImprovement() {
    for (ValidationMetric m : new ValidationMetric[] {ValidationMetric.VAL_ACCURACY, ValidationMetric.VAL_AUC}) {
      StoppingRule rule = new StoppingRule(new EarlyStopping(m, 2, 0));
      assertTrue(rule.observe(0, 0.5));
      assertFalse(rule.observe(1, 0.4), m + ": lower is worse");
      assertFalse(rule.observe(2, 0.5), m + ": equal is no improvement");
      assertTrue(rule.stopped(), m.label());
      assertEquals(0, rule.state().bestEpoch());
    }
  }

  @Test
  void minDeltaIsTheLeastChangeThatCounts() {
    StoppingRule rule = new StoppingRule(new EarlyStopping(ValidationMetric.VAL_LOSS, 2, 0.1));
    assertTrue(rule.observe(0, 1.0));
    assertFalse(rule.observe(1, 0.95), "0.05 better is within minDelta 0.1");
    assertTrue(rule.observe(2, 0.85), "0.15 better counts");
    assertEquals(0.85, rule.state().bestValue());
    StoppingRule up = new StoppingRule(new EarlyStopping(ValidationMetric.VAL_AUC, 1, 0.1));
    up.observe(0, 0.7);
    assertFalse(up.observe(1, 0.79));
    assertTrue(up.stopped());
  }

  @Test
  void patienceZeroIsOffAndNeverStops() {
    StoppingRule rule = new StoppingRule(EarlyStopping.OFF);
    assertFalse(EarlyStopping.OFF.enabled());
    assertEquals(-1, stopEpoch(rule, 1, 2, 3, 4, 5, 6));
  }

  @Test
  void aRestoredStateDecidesAsTheUninterruptedRule() {
    EarlyStopping s = new EarlyStopping(ValidationMetric.VAL_LOSS, 3, 0.01);
    double[] values = {1.0, 0.8, 0.85, 0.79, 0.81, 0.82, 0.83, 0.7};
    StoppingRule whole = new StoppingRule(s);
    int wholeStop = stopEpoch(whole, values);
    StoppingRule first = new StoppingRule(s);
    for (int e = 0; e < 3; e++) {
      first.observe(e, values[e]);
    }
    StoppingRule resumed = new StoppingRule(s);
    resumed.restore(first.state());
    int stop = -1;
    for (int e = 3; e < values.length && stop < 0; e++) {
      resumed.observe(e, values[e]);
      stop = resumed.stopped() ? e : -1;
    }
    assertEquals(4, wholeStop, "0.79 at epoch 3 is within minDelta of 0.8, so epochs 2-4 do not improve on epoch 1");
    assertEquals(wholeStop, stop);
    assertEquals(whole.state(), resumed.state());
  }

  @Test
  void anUndefinedMetricFailsNamingIt() {
    StoppingRule rule = new StoppingRule(new EarlyStopping(ValidationMetric.VAL_AUC, 2, 0));
    BiosException e = assertThrows(BiosException.class, () -> rule.observe(0, Double.NaN));
    assertTrue(e.getMessage().contains("val_auc") && e.getMessage().contains("one class"), e.getMessage());
  }

  @Test
  void badSettingsFailNamingTheSetting() {
    InvalidSettingException m = assertThrows(InvalidSettingException.class, () -> ValidationMetric.parse("f1"));
    assertEquals("earlyStoppingMetric", m.setting());
    assertTrue(m.getMessage().contains("val_loss, val_accuracy or val_auc") && m.getMessage().contains("f1"));
    assertEquals(ValidationMetric.VAL_AUC, ValidationMetric.parse(" Val_AUC "));
    assertEquals("earlyStoppingPatience", assertThrows(InvalidSettingException.class,
        () -> new EarlyStopping(ValidationMetric.VAL_LOSS, -1, 0)).setting());
    assertEquals("earlyStoppingMinDelta", assertThrows(InvalidSettingException.class,
        () -> new EarlyStopping(ValidationMetric.VAL_LOSS, 1, -0.5)).setting());
  }
}
