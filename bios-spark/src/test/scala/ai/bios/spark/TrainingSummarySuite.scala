package ai.bios.spark

import org.json4s._
import org.json4s.jackson.JsonMethods.parse
import org.scalatest.funsuite.AnyFunSuite

/** `TrainingSummary.toJson` is valid JSON that carries every field, for tools. */
class TrainingSummarySuite extends AnyFunSuite {
  private val worker = WorkerSummary(1, Some("3"), "3", 500, 20, 120, 1234.5,
    Map("input" -> 1.5, "compute" -> 2.25), 0.25, 0.125, 4, 3.5, 1.75, 10)
  private val summary = TrainingSummary(Array(0.7, 0.5, 0.25), 3, 1.5, "efficient", Seq(worker))

  test("toJson parses back with the summary's values, per worker and per stage") {
    implicit val formats: Formats = DefaultFormats
    val j = parse(summary.toJson)
    assert((j \ "mode").extract[String] == "efficient")
    assert((j \ "steps").extract[Long] == 3)
    assert((j \ "final_loss").extract[Double] == 0.25)
    assert((j \ "loss_history").extract[Seq[Double]] == Seq(0.7, 0.5, 0.25))
    val w = (j \ "workers")(0)
    assert((w \ "rank").extract[Int] == 1 && (w \ "gpu").extract[String] == "3")
    assert((w \ "spilled_records").extract[Int] == 20 && (w \ "resumed_from").extract[Long] == 10)
    assert((w \ "stage_ms" \ "compute").extract[Double] == 2.25)
    assert((w \ "stage_ms" \ "checkpoint").extract[Double] == 0.0, "every stage is listed")
    assert((w \ "input_wait_fraction").extract[Double] == 0.125)
  }

  test("a value that is not a finite number is null, so the JSON stays valid") {
    val empty = TrainingSummary(Array.empty, 0, 0.0, "simple", Seq(worker.copy(gpu = None)))
    val j = parse(empty.toJson)
    assert((j \ "final_loss") == JNull, empty.toJson)
    assert(((j \ "workers")(0) \ "gpu") == JNull)
  }
}
