package ai.bios.spark.internal

import org.json4s.jackson.JsonMethods
import org.scalatest.funsuite.AnyFunSuite

/** The Bios tab's state stays bounded however long the application runs. */
class FitBoardSuite extends AnyFunSuite {
  private def progress(run: String, rank: Int, step: Long, loss: Double, validation: Double = Double.NaN) =
    Progress(run, rank, 0, step, 100000, loss, 10, 0.1, 0.2, step * 1000, "val_loss", validation)

  test("keeps the newest fits, newest first, and at most KeptPoints points per curve, ending at the newest step") {
    val runs = (0 until FitBoard.KeptFits + 3).map(i => s"board-$i")
    runs.foreach(FitBoard.started(_, 2))
    val newest = runs.last
    (1 to 5 * FitBoard.KeptPoints).foreach(s => FitBoard.record(progress(newest, 0, s, 1.0 / s)))
    val fits = FitBoard.snapshot()
    assert(fits.map(_.run).take(FitBoard.KeptFits) == runs.reverse.take(FitBoard.KeptFits))
    assert(fits.size == FitBoard.KeptFits, "older fits are forgotten")
    val loss = fits.head.loss
    assert(loss.size <= FitBoard.KeptPoints && loss.size >= FitBoard.KeptPoints / 2, loss.size)
    assert(loss.head == ((1.0, 1.0)) && loss.last == ((5.0 * FitBoard.KeptPoints, 1.0 / (5 * FitBoard.KeptPoints))))
    assert(loss.map(_._1) == loss.map(_._1).sorted.distinct, "points stay in step order")
    FitBoard.record(progress("board-0", 0, 1, 1.0))
    assert(!FitBoard.snapshot().exists(_.run == "board-0"), "a late report does not bring a forgotten fit back")
    runs.foreach(FitBoard.ended(_, Left(new IllegalStateException("test fit"))))
    assert(FitBoard.snapshot().forall(_.state == FitBoard.Failed))
  }

  test("one validation point per epoch, at the report that first carried it; the JSON has no NaN") {
    val run = "board-validation"
    FitBoard.started(run, 1)
    FitBoard.record(progress(run, 0, 10, 0.9))
    FitBoard.record(progress(run, 0, 20, 0.8, validation = 0.7))
    FitBoard.record(progress(run, 0, 30, 0.6, validation = 0.7))
    FitBoard.record(progress(run, 0, 40, 0.5, validation = 0.4))
    val fit = FitBoard.snapshot().find(_.run == run).get
    assert(fit.validation == Vector((20.0, 0.7), (40.0, 0.4)))
    val json = JsonMethods.compact(BiosPage.json(Vector(fit)))
    assert(!json.contains("NaN") && json.contains("\"finalLoss\":null"), json)
    FitBoard.ended(run, Left(new IllegalStateException("test fit")))
  }
}
