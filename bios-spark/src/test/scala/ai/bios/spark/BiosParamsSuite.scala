package ai.bios.spark

import ai.bios.tf.exec.{ExecutionMode, PrefetchDepth}
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
}
