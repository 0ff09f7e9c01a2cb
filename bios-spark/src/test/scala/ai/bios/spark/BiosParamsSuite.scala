package ai.bios.spark

import ai.bios.tf.exec.{ExecutionMode, PrefetchDepth}
import ai.bios.tf.model.{LearningRateSchedule, OptimizerSpec}
import org.apache.spark.ml.param.ParamMap
import org.scalatest.funsuite.AnyFunSuite

/** Params read back typed, accept any case, and fail with the engine's message (as MLlib's IllegalArgumentException) on every path. */
class BiosParamsSuite extends AnyFunSuite {

  test("choice params accept any case and read back typed") {
    val e = new BiosEstimator().setExecutionMode("SIMPLE").setPrefetchDepth(" Auto ").setOptimizer("Adam")
      .setSharding("Direct")
    assert(e.getExecutionMode == ExecutionMode.SIMPLE)
    assert(e.getPrefetchDepth == PrefetchDepth.auto())
    assert(e.getOptimizer == "adam" && e.getOptimizerSpec.toString.toLowerCase.contains("adam"))
    assert(e.getSharding == "direct")
    assert(new BiosEstimator().setPrefetchDepth(3).getPrefetchDepth == PrefetchDepth.of(3))
    assert(new BiosEstimator().getExecutionMode == ExecutionMode.EFFICIENT)
  }

  test("a bad choice fails with the engine's message, through a setter or a ParamMap") {
    val viaSetter = intercept[IllegalArgumentException](new BiosEstimator().setExecutionMode("fast"))
    assert(viaSetter.getMessage.contains("executionMode") && viaSetter.getMessage.contains("simple or efficient"))
    val e = new BiosEstimator()
    val viaMap = intercept[IllegalArgumentException](e.copy(ParamMap(e.prefetchDepth -> "0")))
    assert(viaMap.getMessage.contains("prefetchDepth") && viaMap.getMessage.contains(">= 1"), viaMap.getMessage)
    val sharding = intercept[IllegalArgumentException](new BiosEstimator().setSharding("random"))
    assert(sharding.getMessage.contains("sharding") && sharding.getMessage.contains("shuffle or direct"))
    val optimizer = intercept[IllegalArgumentException](new BiosEstimator().setOptimizer("lbfgs"))
    assert(optimizer.getMessage.contains("sgd, momentum, adam"), optimizer.getMessage)
  }

  test("the optimizer params' defaults keep today's optimizer: adam at 0.001, constant rate, nothing else") {
    val e = new BiosEstimator()
    assert(e.getOptimizerSpec == OptimizerSpec.adam(0.001))
    assert(e.getOptimizerSpec.toString == OptimizerSpec.adam(0.001).toString, "checkpoints' run identity unchanged")
    assert(e.getLearningRateSchedule == LearningRateSchedule.constant())
    assert(e.getWeightDecay == OptimizerSpec.DEFAULT_WEIGHT_DECAY && e.getL2 == 0 && e.getClipNorm == 0)
    assert(e.getWarmupSteps == 0)
    assert(new BiosEstimator().setOptimizer("momentum").setLearningRate(0.1).getOptimizerSpec ==
      OptimizerSpec.momentum(0.1, 0.9))
  }

  test("the new optimizers, weight decay, l2, clipping and schedules read back as the engine's typed values") {
    assert(new BiosEstimator().setOptimizer("RMSProp").getOptimizerSpec == OptimizerSpec.rmsprop(0.001))
    assert(new BiosEstimator().setOptimizer("adagrad").getOptimizer == "adagrad")
    val e = new BiosEstimator().setOptimizer("AdamW").setLearningRate(0.002).setWeightDecay(0.05).setL2(1e-4)
      .setClipNorm(1.5).setLearningRateSchedule(" Cosine:1000:0.1 ").setWarmupSteps(100)
    assert(e.getOptimizer == "adamw")
    assert(e.getLearningRateSchedule == LearningRateSchedule.cosine(1000, 0.1).withWarmup(100))
    assert(e.getOptimizerSpec == OptimizerSpec.adamW(0.002, 0.05).withL2(1e-4).withClipNorm(1.5)
      .withSchedule(LearningRateSchedule.cosine(1000, 0.1).withWarmup(100)))
    assert(new BiosEstimator().setOptimizer("adamw").getOptimizerSpec.weightDecay == OptimizerSpec.DEFAULT_WEIGHT_DECAY)
    // Stored in the short form, read back typed.
    val step = new BiosEstimator().setLearningRateSchedule("STEP:1000:0.5")
    assert(step.getOrDefault(step.learningRateSchedule) == "step:1000:0.5")
    assert(step.getLearningRateSchedule == LearningRateSchedule.step(1000, 0.5))
    assert(new BiosEstimator().setLearningRateSchedule("exponential:1000:0.96").getLearningRateSchedule ==
      LearningRateSchedule.exponential(1000, 0.96))
    val auto = new BiosEstimator().setLearningRateSchedule("cosine")
    assert(auto.getLearningRateSchedule.needsTotalSteps(), "cosine without a total: fit counts the run")
    val typed = new BiosEstimator().setLearningRateSchedule(LearningRateSchedule.exponential(10, 0.5).withWarmup(3))
    assert(typed.getWarmupSteps == 3 && typed.getLearningRateSchedule == LearningRateSchedule.exponential(10, 0.5).withWarmup(3))
    // Decay of 0 set explicitly on another optimizer is harmless.
    assert(new BiosEstimator().setWeightDecay(0).getOptimizerSpec == OptimizerSpec.adam(0.001))
  }

  test("bad optimizer values fail naming the param, the value and what is allowed, via a setter or a ParamMap") {
    def fails(what: => Any, parts: String*): Unit = {
      val e = intercept[IllegalArgumentException](what)
      parts.foreach(p => assert(e.getMessage.contains(p), s"'$p' missing from: ${e.getMessage}"))
    }
    fails(new BiosEstimator().setWeightDecay(-1), "weightDecay", "-1.0", ">= 0")
    fails(new BiosEstimator().setL2(Double.NaN), "l2", "NaN", ">= 0")
    fails(new BiosEstimator().setClipNorm(-2), "clipNorm", "-2.0", ">= 0")
    fails(new BiosEstimator().setWarmupSteps(-5), "warmupSteps", "-5", ">= 0")
    fails(new BiosEstimator().setLearningRateSchedule("linear"), "learningRateSchedule", "linear",
      "cosine:TOTAL", "step:EVERY:FACTOR", "exponential:EVERY:RATE")
    fails(new BiosEstimator().setLearningRateSchedule("step:0:0.5"), "learningRateSchedule", "0", ">= 1")
    fails(new BiosEstimator().setLearningRateSchedule("exponential:100:2"), "learningRateSchedule", "2.0", "(0, 1]")
    val e = new BiosEstimator()
    fails(e.copy(ParamMap(e.learningRateSchedule -> "cosine:ten")), "learningRateSchedule", "cosine:ten")
    fails(e.copy(ParamMap(e.clipNorm -> Double.PositiveInfinity)), "clipNorm", "Infinity")
    fails(new BiosEstimator().setOptimizer("lbfgs"), "optimizer", "lbfgs", "rmsprop, adagrad, adamw")
    // Settings that only clash together fail when the optimizer is read (and so before any fit).
    fails(new BiosEstimator().setOptimizer("adam").setWeightDecay(0.1).getOptimizerSpec, "weightDecay", "0.1",
      "adamw only")
    fails(new BiosEstimator().setLearningRateSchedule("cosine:50").setWarmupSteps(50).getOptimizerSpec,
      "warmupSteps", "50", "below")
    fails(new BiosEstimator().setOptimizer("adamw").setLearningRate(0.5).setWeightDecay(4).getOptimizerSpec,
      "weightDecay", "4.0", "below 1")
  }

  test("loss params: classWeights and labelSmoothing read back typed, default to none, and bad values name the param") {
    val d = new BiosEstimator()
    assert(d.getWeightCol == "" && d.getClassWeights == "" && d.getLabelSmoothing == 0.0)
    assert(d.getLossOptions == ai.bios.tf.model.LossOptions.NONE, "defaults keep today's loss and run identity")
    val e = new BiosEstimator().setWeightCol("w").setClassWeights(Array(1.0, 3.0)).setLabelSmoothing(0.1)
    assert(e.getLossOptions == new ai.bios.tf.model.LossOptions(true, Array(1.0f, 3.0f), 0.1))
    def fails(what: => Any, parts: String*): Unit = {
      val m = intercept[IllegalArgumentException](what).getMessage
      parts.foreach(p => assert(m.contains(p), s"'$p' missing from: $m"))
    }
    fails(new BiosEstimator().setLabelSmoothing(1.0), "labelSmoothing", "1.0", "[0, 1)")
    fails(new BiosEstimator().setLabelSmoothing(-0.1), "labelSmoothing", "[0, 1)")
    fails(new BiosEstimator().setClassWeights("1,x"), "classWeights", "'x' is not a number")
    fails(new BiosEstimator().setClassWeights("1,-3"), "classWeights", ">= 0")
    val p = new BiosEstimator()
    fails(p.copy(ParamMap(p.labelSmoothing -> Double.NaN)), "labelSmoothing", "NaN")
  }
}
