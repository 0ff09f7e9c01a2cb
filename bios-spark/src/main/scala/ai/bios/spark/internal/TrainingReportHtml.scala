package ai.bios.spark.internal

import ai.bios.spark.{TrainingSummary, WorkerSummary}
import ai.bios.tf.exec.Stage
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path

import java.io.IOException
import java.nio.charset.StandardCharsets
import java.util.Locale

/**
 * One fit's training report: a single self-contained HTML file (inline CSS and SVG; no scripts,
 * fonts, images or links) with the loss of every step as a chart, per-epoch curves when given,
 * the per-worker table, the stage costs and every setting of the estimator.
 *
 * The markup is also well-formed XML (every element closed, all text escaped), so tools can parse it.
 */
private[spark] object TrainingReportHtml {

  /** A per-epoch curve: its name and (epoch, value) points, e.g. the validation loss. */
  final case class Curve(name: String, points: Seq[(Int, Double)])

  /**
   * The report. `settings` are (param, value) pairs, shown as given; `epochCurves` (the hook for
   * per-epoch training and validation metrics) get one chart each when non-empty.
   */
  def render(title: String, s: TrainingSummary, settings: Seq[(String, String)], epochCurves: Seq[Curve] = Nil,
      tensorBoardRun: Option[String] = None): String = {
    val b = new StringBuilder
    b ++= "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
    b ++= s"<title>${esc(title)}</title><style>$Css</style></head><body>\n"
    b ++= s"<h1>${esc(title)}</h1>\n<table class=\"kv\" id=\"overview\">"
    val overview = Seq("mode" -> s.mode, "steps" -> s.steps.toString, "train seconds" -> num(s.trainSeconds),
      "final loss" -> num(s.finalLoss), "samples per second" -> num(s.samplesPerSecond),
      "workers" -> s.workers.size.toString) ++ tensorBoardRun.map("TensorBoard run" -> _)
    overview.foreach { case (k, v) => b ++= s"<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>" }
    b ++= "</table>\n<h2>Loss per step</h2>\n"
    b ++= chart("loss-chart", "step", s.lossHistory.indices.map(i => (i + 1.0, s.lossHistory(i))))
    epochCurves.filter(_.points.nonEmpty).foreach { c =>
      b ++= s"<h2>${esc(c.name)} per epoch</h2>\n"
      b ++= chart(s"epoch-${c.name.replaceAll("[^A-Za-z0-9]", "-")}", "epoch", c.points.map(p => (p._1.toDouble, p._2)))
    }
    b ++= "<h2>Workers</h2>\n" + table("workers", WorkerColumns.map(_._1), s.workers.map(w => WorkerColumns.map(_._2(w))))
    b ++= "<h2>Stage costs (ms per step)</h2>\n"
    b ++= table("stages", "rank" +: Stage.values().toSeq.map(WorkerSummary.key),
      s.workers.map(w => w.rank.toString +: Stage.values().toSeq.map(st => num(w.stageMillis.getOrElse(WorkerSummary.key(st), 0.0)))))
    b ++= "<h2>Settings</h2>\n" + table("settings", Seq("param", "value"), settings.map { case (k, v) => Seq(k, v) })
    b ++= "</body></html>\n"
    b.toString
  }

  /** Writes `html` to `file` on any Hadoop file system, replacing nothing; fails naming reportDir. */
  def write(file: Path, html: String, conf: Configuration): Unit = {
    try {
      val fs = TensorBoardWriter.fileSystem(file, conf)
      fs.mkdirs(file.getParent)
      val out = fs.create(file, false)
      try out.write(html.getBytes(StandardCharsets.UTF_8)) finally out.close()
    } catch {
      case e: IOException => throw new IllegalArgumentException(s"reportDir: cannot write the training report $file: " +
        s"${e.getMessage}; point reportDir at a directory this driver can write", e)
    }
  }

  private val WorkerColumns: Seq[(String, WorkerSummary => String)] = Seq(
    "rank" -> (_.rank.toString),
    "gpu" -> (_.gpu.getOrElse("-")),
    "pinned devices" -> (w => if (w.pinnedDevices.isEmpty) "cpu" else w.pinnedDevices),
    "records" -> (_.records.toString),
    "spilled records" -> (_.spilledRecords.toString),
    "records before training" -> (_.recordsBeforeTraining.toString),
    "samples/s" -> (w => num(w.samplesPerSecond)),
    "input wait" -> (w => pct(w.inputWaitFraction)),
    "device idle" -> (w => pct(w.deviceIdleFraction)),
    "prefetch depth" -> (_.prefetchDepth.toString),
    "step median ms" -> (w => num(w.stepMedianMillis)),
    "ceiling" -> (w => num(w.ceiling)),
    "resumed from" -> (_.resumedFrom.toString))

  private val Css = "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:0.5em 0}" +
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}th{background:#f3f3f3}" +
    "table.kv th{text-align:left}#settings td{text-align:left;font-family:monospace;white-space:pre-wrap;max-width:60em;" +
    "word-break:break-all}svg{background:#fafafa;border:1px solid #ddd}"

  private def table(id: String, header: Seq[String], rows: Seq[Seq[String]]): String = {
    val b = new StringBuilder(s"<table id=\"$id\"><tr>")
    header.foreach(h => b ++= s"<th>${esc(h)}</th>")
    b ++= "</tr>"
    rows.foreach { r =>
      b ++= "<tr>"
      r.foreach(v => b ++= s"<td>${esc(v)}</td>")
      b ++= "</tr>"
    }
    b ++= "</table>\n"
    b.toString
  }

  /** A line chart of the finite points, with the axes' ranges written at the corners. */
  private def chart(id: String, xName: String, points: Seq[(Double, Double)]): String = {
    val pts = points.filter { case (x, y) => !x.isNaN && !y.isNaN && !x.isInfinite && !y.isInfinite }
    if (pts.isEmpty) return s"<p id=\"$id\">no finite values</p>\n"
    val (w, h, left, bottom, pad) = (720.0, 280.0, 70.0, 30.0, 10.0)
    val (x0, x1) = (pts.map(_._1).min, pts.map(_._1).max)
    val (y0, y1) = (pts.map(_._2).min, pts.map(_._2).max)
    def sx(x: Double) = left + (if (x1 == x0) 0.5 else (x - x0) / (x1 - x0)) * (w - left - pad)
    def sy(y: Double) = h - bottom - (if (y1 == y0) 0.5 else (y - y0) / (y1 - y0)) * (h - bottom - pad)
    val line = envelope(pts, MaxBuckets).map { case (x, y) => s"${c(sx(x))},${c(sy(y))}" }
    val b = new StringBuilder
    b ++= s"""<svg id="$id" width="${c(w)}" height="${c(h)}" viewBox="0 0 ${c(w)} ${c(h)}" role="img">"""
    b ++= s"""<line x1="${c(left)}" y1="${c(h - bottom)}" x2="${c(w - pad)}" y2="${c(h - bottom)}" stroke="#888"/>"""
    b ++= s"""<line x1="${c(left)}" y1="${c(pad)}" x2="${c(left)}" y2="${c(h - bottom)}" stroke="#888"/>"""
    b ++= s"""<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${line.mkString(" ")}"/>"""
    if (pts.size == 1) b ++= s"""<circle cx="${c(sx(pts.head._1))}" cy="${c(sy(pts.head._2))}" r="3" fill="#1f77b4"/>"""
    def text(x: Double, y: Double, anchor: String, s: String) =
      b ++= s"""<text x="${c(x)}" y="${c(y)}" font-size="11" text-anchor="$anchor">${esc(s)}</text>"""
    text(left - 4, pad + 8, "end", num(y1))
    text(left - 4, h - bottom, "end", num(y0))
    text(left, h - bottom + 14, "start", num(x0))
    text(w - pad, h - bottom + 14, "end", num(x1))
    text((left + w) / 2, h - 4, "middle", xName)
    b ++= "</svg>\n"
    b.toString
  }

  private val MaxBuckets = 1000

  /**
   * At most `buckets` runs of consecutive points, each drawn by its lowest and highest point in
   * order, so a long run's chart stays small and keeps its spikes; short series are drawn whole.
   */
  private def envelope(pts: Seq[(Double, Double)], buckets: Int): Seq[(Double, Double)] =
    if (pts.size <= 2 * buckets) pts
    else pts.grouped((pts.size + buckets - 1) / buckets).flatMap { g =>
      Seq(g.minBy(_._2), g.maxBy(_._2)).distinct.sortBy(_._1)
    }.toSeq

  /** An SVG coordinate (locale-independent). */
  private def c(d: Double): String = String.format(Locale.ROOT, "%.1f", java.lang.Double.valueOf(d))

  def num(d: Double): String =
    if (d.isNaN || d.isInfinite) d.toString
    else if (d == math.rint(d) && math.abs(d) < 1e15) d.toLong.toString
    else String.format(Locale.ROOT, "%.6g", java.lang.Double.valueOf(d))

  def pct(d: Double): String = if (d.isNaN) "NaN" else String.format(Locale.ROOT, "%.1f%%", java.lang.Double.valueOf(100 * d))

  /** Text and attribute escaping for HTML and XML. */
  def esc(s: String): String = {
    val b = new StringBuilder(s.length)
    s.foreach {
      case '<' => b ++= "&lt;"
      case '>' => b ++= "&gt;"
      case '&' => b ++= "&amp;"
      case '"' => b ++= "&quot;"
      case '\'' => b ++= "&#39;"
      case c => b += c
    }
    b.toString
  }
}
