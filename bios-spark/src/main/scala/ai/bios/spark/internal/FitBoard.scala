package ai.bios.spark.internal

import ai.bios.spark.WorkerSummary

import scala.collection.mutable

/**
 * What the Bios tab of the Spark UI shows: the newest [[FitBoard.KeptFits]] fits of this driver,
 * live while they run and kept after they end. Fed by the driver plugin (every worker's
 * [[Progress]]) and by the fit itself (start and end). Bounded: curves keep at most
 * [[FitBoard.KeptPoints]] points, halving their resolution when full.
 */
private[spark] object FitBoard {
  val KeptFits = 10
  val KeptPoints = 400

  /**
   * A fit as the page shows it; immutable. `loss`, `throughput` and `validation` (one per epoch,
   * at its last step) are (step, value) points.
   */
  final case class Fit(
      run: String, workers: Int, state: String, error: String, startedMillis: Long, endedMillis: Long,
      finalLoss: Double, latest: Option[Progress], loss: Vector[(Double, Double)],
      throughput: Vector[(Double, Double)], validationLabel: String, validation: Vector[(Double, Double)],
      ranks: Vector[Progress], summaries: Map[Int, WorkerSummary]) {
    def running: Boolean = state == Running
  }

  val Running = "running"
  val Finished = "finished"
  val Failed = "failed"

  /** A curve that keeps at most `max` points: when full, every other one goes. */
  private final class Curve(max: Int) {
    private val points = mutable.ArrayBuffer[(Double, Double)]()
    def add(x: Double, y: Double): Unit = {
      if (points.nonEmpty && points.last._1 == x) points(points.length - 1) = (x, y)
      else if (points.isEmpty || points.last._1 < x) points += ((x, y))
      if (points.length > max) {
        val kept = points.indices.collect { case i if i % 2 == 0 || i == points.length - 1 => points(i) }
        points.clear()
        points ++= kept
      }
    }
    def lastY: Option[Double] = points.lastOption.map(_._2)
    def toVector: Vector[(Double, Double)] = points.toVector
  }

  private final class Live(val run: String, val workers: Int) {
    val startedMillis: Long = System.currentTimeMillis()
    var state: String = Running
    var error = ""
    var endedMillis = 0L
    var finalLoss: Double = Double.NaN
    var latest: Option[Progress] = None
    val loss = new Curve(KeptPoints)
    val throughput = new Curve(KeptPoints)
    var validationLabel = ""
    val validation = new Curve(KeptPoints)
    val ranks = mutable.TreeMap[Int, Progress]()
    var summaries = Map.empty[Int, WorkerSummary]

    def view: Fit = Fit(run, workers, state, error, startedMillis, endedMillis, finalLoss, latest, loss.toVector,
      throughput.toVector, validationLabel, validation.toVector, ranks.values.toVector, summaries)
  }

  private val fits = mutable.LinkedHashMap[String, Live]()

  /** A fit of `workers` workers starts. */
  def started(run: String, workers: Int): Unit = synchronized { live(run, workers) }

  /** One worker's report; ignored unless its fit is kept (a late one of a forgotten fit). */
  def record(p: Progress): Unit = synchronized { fits.get(p.run).foreach(record(_, p)) }

  private def record(fit: Live, p: Progress): Unit = {
    fit.ranks.put(p.rank, p)
    if (p.rank == 0) {
      fit.latest = Some(p)
      fit.loss.add(p.step.toDouble, p.loss)
      fit.throughput.add(p.step.toDouble, p.samplesPerSecond)
      // The newest finished epoch's value rides along every report: one point per epoch, at the
      // step of the report that first carried it (the epoch's last).
      if (!p.validationValue.isNaN && !fit.validation.lastY.contains(p.validationValue)) {
        fit.validationLabel = p.validationMetric
        fit.validation.add(p.step.toDouble, p.validationValue)
      }
    }
  }

  /** The fit ended: with every worker's result, or with the failure. */
  def ended(run: String, outcome: Either[Throwable, Seq[BarrierTraining.WorkerResult]]): Unit = synchronized {
    fits.get(run).foreach(ended(_, outcome))
  }

  private def ended(fit: Live, outcome: Either[Throwable, Seq[BarrierTraining.WorkerResult]]): Unit = {
    fit.endedMillis = System.currentTimeMillis()
    outcome match {
      case Right(results) =>
        fit.state = Finished
        fit.finalLoss = results.headOption.flatMap(_.losses.lastOption).getOrElse(Double.NaN)
        fit.summaries = results.map(r => r.rank -> r.summary).toMap
      case Left(e) =>
        fit.state = Failed
        fit.error = s"${e.getClass.getSimpleName}: ${e.getMessage}"
    }
  }

  /** The kept fits, newest first. */
  def snapshot(): Vector[Fit] = synchronized { fits.values.map(_.view).toVector.reverse }

  private def live(run: String, workers: Int): Live = {
    val fit = fits.getOrElseUpdate(run, new Live(run, workers))
    while (fits.size > KeptFits) fits.remove(fits.head._1)
    fit
  }
  // Every fit is started before its workers report, and ends (BarrierTraining.run), so none stays
  // "running" forever; a report of a fit that has been forgotten does not bring it back.
}
