package ai.bios.tf.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bios.tf.InvalidSettingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The learning-rate schedules' values at known steps, their short form, and their errors. */
class LearningRateScheduleTest {
  private static final double EXACT = 1e-15;

  @Test
  void warmUpRisesLinearlyFromZeroAtStepZeroToTheFullRateAtTheLastWarmUpStep() {
    LearningRateSchedule s = LearningRateSchedule.constant().withWarmup(10);
    assertEquals(0.0, s.factor(0));
    assertEquals(0.1, s.factor(1), EXACT);
    assertEquals(0.5, s.factor(5), EXACT);
    assertEquals(0.9, s.factor(9), EXACT);
    assertEquals(1.0, s.factor(10));
    assertEquals(1.0, s.factor(1_000_000));
    assertEquals(1.0, LearningRateSchedule.constant().factor(0), "no warm-up: the full rate from step 0");
  }

  @Test
  void cosineFallsFromTheFullRateAfterWarmUpToItsFloorAtTheTotalAndStaysThere() {
    LearningRateSchedule s = LearningRateSchedule.cosine(110, 0.1).withWarmup(10);
    assertEquals(0.5, s.factor(5), EXACT, "still warming up");
    assertEquals(1.0, s.factor(10), EXACT);
    assertEquals(0.1 + 0.9 * 0.5, s.factor(60), EXACT, "midpoint of the decay: halfway to the floor");
    assertEquals(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4)), s.factor(35), EXACT);
    assertEquals(0.1, s.factor(110), EXACT);
    assertEquals(0.1, s.factor(5000), EXACT);
    assertEquals(0.0, LearningRateSchedule.cosine(100, 0).factor(100), EXACT);
  }

  @Test
  void stepDecayMultipliesByItsFactorAtEveryBoundaryCountedFromTheEndOfWarmUp() {
    LearningRateSchedule s = LearningRateSchedule.step(100, 0.5);
    assertEquals(1.0, s.factor(0));
    assertEquals(1.0, s.factor(99));
    assertEquals(0.5, s.factor(100));
    assertEquals(0.5, s.factor(199));
    assertEquals(0.25, s.factor(200));
    LearningRateSchedule warm = s.withWarmup(10);
    assertEquals(1.0, warm.factor(109));
    assertEquals(0.5, warm.factor(110));
  }

  @Test
  void exponentialDecayIsSmoothWithItsRatePerInterval() {
    LearningRateSchedule s = LearningRateSchedule.exponential(100, 0.96);
    assertEquals(1.0, s.factor(0));
    assertEquals(Math.sqrt(0.96), s.factor(50), EXACT);
    assertEquals(0.96, s.factor(100), EXACT);
    assertEquals(0.96 * 0.96, s.factor(200), EXACT);
    assertTrue(s.factor(101) < s.factor(100), "it falls between boundaries too");
  }

  @Test
  void theOptimizersRateIsTheBaseRateTimesTheFactorInDouble() {
    OptimizerSpec opt = OptimizerSpec.adam(0.01).withSchedule(LearningRateSchedule.step(10, 0.5).withWarmup(4));
    assertEquals(0.0, opt.learningRateAt(0));
    assertEquals(0.005, opt.learningRateAt(2), EXACT);
    assertEquals(0.01, opt.learningRateAt(13), EXACT);
    assertEquals(0.005, opt.learningRateAt(14), EXACT);
    assertEquals(0.01, OptimizerSpec.adam(0.01).learningRateAt(123), "default: constant");
  }

  @Test
  void theShortFormReadsBackAnyCaseAndRoundTrips() {
    assertEquals(LearningRateSchedule.constant(), LearningRateSchedule.parse(" Constant ", 0));
    assertEquals(LearningRateSchedule.cosine(0, 0), LearningRateSchedule.parse("cosine", 0));
    assertEquals(LearningRateSchedule.cosine(0, 0), LearningRateSchedule.parse("COSINE:auto", 0));
    assertEquals(LearningRateSchedule.cosine(0, 0), LearningRateSchedule.parse("cosine:0", 0));
    assertEquals(LearningRateSchedule.cosine(5000, 0), LearningRateSchedule.parse("cosine:5000", 0));
    assertEquals(LearningRateSchedule.cosine(5000, 0.05).withWarmup(100),
        LearningRateSchedule.parse("cosine:5000:0.05", 100));
    assertEquals(LearningRateSchedule.step(1000, 0.5), LearningRateSchedule.parse("step:1000:0.5", 0));
    assertEquals(LearningRateSchedule.exponential(1000, 0.96).withWarmup(7),
        LearningRateSchedule.parse("exponential:1000:0.96", 7));
    for (LearningRateSchedule s : List.of(LearningRateSchedule.constant(), LearningRateSchedule.cosine(0, 0.1),
        LearningRateSchedule.cosine(900, 0.1).withWarmup(9), LearningRateSchedule.step(3, 0.25),
        LearningRateSchedule.exponential(40, 0.5).withWarmup(2))) {
      assertEquals(s, LearningRateSchedule.parse(s.spec(), s.warmupSteps()), s.spec());
    }
  }

  @Test
  void badSchedulesFailNamingTheSettingTheValueAndWhatIsAllowed() {
    for (String bad : List.of("linear", "", "step:100", "step:x:0.5", "cosine:1:2:3", "constant:5", "exponential")) {
      InvalidSettingException e = assertThrows(InvalidSettingException.class,
          () -> LearningRateSchedule.parse(bad, 0), bad);
      assertEquals("learningRateSchedule", e.setting());
      assertTrue(e.getMessage().contains("\"" + bad + "\"") && e.getMessage().contains("step:EVERY:FACTOR"),
          e.getMessage());
    }
    assertNames(() -> LearningRateSchedule.parse("step:0:0.5", 0), "learningRateSchedule", "0", ">= 1");
    assertNames(() -> LearningRateSchedule.parse("exponential:100:1.5", 0), "learningRateSchedule", "1.5", "(0, 1]");
    assertNames(() -> LearningRateSchedule.parse("step:100:0", 0), "learningRateSchedule", "0.0", "(0, 1]");
    assertNames(() -> LearningRateSchedule.parse("cosine:100:1", 0), "learningRateSchedule", "1.0", "[0, 1)");
    assertNames(() -> LearningRateSchedule.parse("cosine:-5", 0), "learningRateSchedule", "-5");
    assertNames(() -> LearningRateSchedule.parse("cosine:100", 100), "warmupSteps", "100", "below");
    assertNames(() -> LearningRateSchedule.parse("constant", -1), "warmupSteps", "-1", ">= 0");
  }

  @Test
  void anAutoCosineTakesTheRunsTotalOnceKnownAndIsRefusedUntilThen() {
    LearningRateSchedule auto = LearningRateSchedule.parse("cosine:auto:0.1", 10);
    assertTrue(auto.needsTotalSteps());
    assertThrows(IllegalStateException.class, () -> auto.factor(20));
    LearningRateSchedule filled = auto.withTotalSteps(110);
    assertFalse(filled.needsTotalSteps());
    assertEquals(LearningRateSchedule.cosine(110, 0.1).withWarmup(10), filled);
    assertEquals(0.55, filled.factor(60), EXACT);
    assertEquals(filled, filled.withTotalSteps(999), "a known total is kept");
    assertEquals(LearningRateSchedule.step(5, 0.5), LearningRateSchedule.step(5, 0.5).withTotalSteps(3));
    assertNames(() -> auto.withTotalSteps(10), "warmupSteps", "10", "run's 10 steps");
    OptimizerSpec opt = OptimizerSpec.adam(0.01).withSchedule(auto);
    assertNames(() -> new TrainableModel(ModelSpec.builder(3).dense(2, Activation.NONE).build(), opt, ComputeOptions.cpu()),
        "learningRateSchedule", "cosine:auto");
  }

  @Test
  void aScheduleRoundTripsThroughJsonAndJavaSerialization() throws Exception {
    LearningRateSchedule s = LearningRateSchedule.cosine(1000, 0.05).withWarmup(50);
    ObjectMapper json = new ObjectMapper();
    assertEquals(s, json.readValue(json.writeValueAsString(s), LearningRateSchedule.class));
    OptimizerSpec opt = OptimizerSpec.adamW(0.001, 0.02).withL2(1e-4).withClipNorm(1.0).withSchedule(s);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(opt);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      assertEquals(opt, in.readObject());
    }
  }

  @Test
  void unusedFieldsAreNormalisedSoEqualSchedulesCompareEqual() {
    assertEquals(LearningRateSchedule.constant(),
        new LearningRateSchedule(LearningRateSchedule.Kind.CONSTANT, 0, 77, 3, 0.5, 0.2));
    assertEquals(LearningRateSchedule.step(10, 0.5),
        new LearningRateSchedule(LearningRateSchedule.Kind.STEP, 0, 100, 10, 0.5, 0.3));
  }

  private static void assertNames(org.junit.jupiter.api.function.Executable call, String... parts) {
    InvalidSettingException e = assertThrows(InvalidSettingException.class, call);
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), "'" + p + "' missing from: " + e.getMessage());
    }
  }
}
