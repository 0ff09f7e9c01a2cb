package ai.bios.spark.internal

import ai.bios.tf.exec.Stage
import org.json4s.JsonAST._

import scala.xml.{Node, NodeSeq}

/**
 * The Bios tab of the Spark UI: per kept fit ([[FitBoard]]) its loss curve, throughput, worker
 * table and the stage timeline of each worker's newest steps, as HTML with inline SVG charts made
 * here (no scripts beyond a reload while a fit runs, so it works offline); and the same as JSON.
 */
private[spark] object BiosPage {
  /** Seconds between reloads of the page while a fit runs. */
  val RefreshSeconds = 2

  private val StageColors = Vector("#4e79a7", "#bab0ac", "#59a14f", "#f28e2b", "#e15759", "#76b7b2", "#b07aa1")

  def content(fits: Vector[FitBoard.Fit]): Seq[Node] = {
    val refresh = if (fits.exists(_.running)) {
      <script>{scala.xml.Unparsed(s"setTimeout(function () { location.reload(); }, ${RefreshSeconds * 1000});")}</script>
    } else NodeSeq.Empty
    val body = if (fits.isEmpty) <p id="bios-empty">No Bios fit has run in this application yet.</p>
      else <div>{fits.map(fit)}</div>
    refresh ++ body
  }

  private def fit(f: FitBoard.Fit): Node = {
    val p = f.latest
    val step = p.map(_.step).getOrElse(0L)
    val total = p.map(q => if (q.totalSteps < 0) "?" else q.totalSteps.toString).getOrElse("?")
    val status = f.state match {
      case FitBoard.Finished => s"finished, final loss ${fmt(f.finalLoss)}"
      case FitBoard.Failed => s"failed: ${f.error}"
      case _ => "running"
    }
    <div class="bios-fit" data-run={f.run} data-state={f.state} style="margin-bottom:2em">
      <h4>Fit <span class="bios-run">{f.run}</span></h4>
      <p class="bios-status">
        <strong>{status}</strong>
        {s" | ${f.workers} workers | epoch ${p.map(_.epoch + 1).getOrElse(0)} | step $step/$total | " +
          s"loss ${p.map(q => fmt(q.loss)).getOrElse("-")} | " +
          s"${p.map(q => f"${q.samplesPerSecond}%.0f").getOrElse("-")} samples/s | " +
          f"${p.map(_.elapsedNanos / 1e9).getOrElse(0.0)}%.1f s"}
      </p>
      <div style="display:flex;flex-wrap:wrap;gap:1em">
        <div>
          <h5>Loss</h5>
          {lineChart("bios-loss", Seq(Series("training loss", "#4e79a7", f.loss, dots = false),
            Series(if (f.validationLabel.isEmpty) "validation" else f.validationLabel, "#f28e2b", f.validation,
              dots = true)), "step")}
        </div>
        <div>
          <h5>Throughput (samples/s)</h5>
          {lineChart("bios-throughput", Seq(Series("samples/s", "#59a14f", f.throughput, dots = false)), "step")}
        </div>
      </div>
      <h5>Workers</h5>
      {workers(f)}
      <h5>Stage timeline of the newest steps (milliseconds per stage, stacked)</h5>
      {legend}
      {f.ranks.map(timeline(_, f.ranks))}
    </div>
  }

  private def workers(f: FitBoard.Fit): Node =
    <table class="table table-bordered table-sm bios-workers" style="width:auto">
      <thead><tr>{Seq("Rank", "Executor", "GPU", "Step", "Loss", "Input wait", "Device idle", "Prefetch depth",
        "Step median (ms)").map(h => <th>{h}</th>)}</tr></thead>
      <tbody>{f.ranks.map { p =>
        val s = f.summaries.get(p.rank)
        <tr class="bios-worker" data-rank={p.rank.toString}>
          <td>{p.rank}</td><td>{p.executorId}</td>
          <td>{if (p.gpu.nonEmpty) p.gpu else s.flatMap(_.gpu).getOrElse("none")}</td>
          <td>{p.step}</td><td>{fmt(p.loss)}</td>
          <td>{pct(p.inputWaitFraction)}</td><td>{pct(p.deviceIdleFraction)}</td>
          <td>{s.map(_.prefetchDepth.toString).getOrElse("-")}</td>
          <td>{s.map(w => f"${w.stepMedianMillis}%.2f").getOrElse("-")}</td>
        </tr>
      }}</tbody>
    </table>

  private final case class Series(name: String, color: String, points: Vector[(Double, Double)], dots: Boolean)

  private val W = 560
  private val H = 220
  private val Left = 60
  private val Bottom = 30
  private val Top = 20
  private val Right = 10

  /** A line chart of `series` on shared axes, as SVG. */
  private def lineChart(id: String, series: Seq[Series], xLabel: String): Node = {
    val all = series.flatMap(_.points).filter { case (x, y) => !x.isNaN && !y.isNaN && !y.isInfinite }
    if (all.isEmpty) return <svg id={id} width={W.toString} height="40"><text x="10" y="25">no steps yet</text></svg>
    val (x0, x1) = (all.map(_._1).min, all.map(_._1).max)
    val (y0, y1) = (all.map(_._2).min, all.map(_._2).max)
    def sx(x: Double) = Left + (if (x1 == x0) 0.5 else (x - x0) / (x1 - x0)) * (W - Left - Right)
    def sy(y: Double) = H - Bottom - (if (y1 == y0) 0.5 else (y - y0) / (y1 - y0)) * (H - Bottom - Top)
    <svg id={id} xmlns="http://www.w3.org/2000/svg" width={W.toString} height={H.toString}
         viewBox={s"0 0 $W $H"} style="background:#fff;border:1px solid #ddd">
      <line x1={Left.toString} y1={(H - Bottom).toString} x2={(W - Right).toString} y2={(H - Bottom).toString}
            stroke="#888"/>
      <line x1={Left.toString} y1={Top.toString} x2={Left.toString} y2={(H - Bottom).toString} stroke="#888"/>
      <text x={(Left - 4).toString} y={(Top + 4).toString} text-anchor="end" font-size="10">{fmt(y1)}</text>
      <text x={(Left - 4).toString} y={(H - Bottom).toString} text-anchor="end" font-size="10">{fmt(y0)}</text>
      <text x={Left.toString} y={(H - Bottom + 14).toString} font-size="10">{f"$x0%.0f"}</text>
      <text x={(W - Right).toString} y={(H - Bottom + 14).toString} text-anchor="end" font-size="10">{f"$x1%.0f"}</text>
      <text x={((W + Left) / 2).toString} y={(H - 4).toString} text-anchor="middle" font-size="11">{xLabel}</text>
      {series.zipWithIndex.filter(_._1.points.nonEmpty).map { case (s, i) =>
        val d = s.points.map { case (x, y) => f"${sx(x)}%.1f,${sy(y)}%.1f" }.mkString("M", " L", "")
        <g class="bios-series" data-name={s.name}>
          <path class={s"$id-path"} d={d} fill="none" stroke={s.color} stroke-width="2"/>
          {if (s.dots) s.points.map { case (x, y) =>
            <circle cx={f"${sx(x)}%.1f"} cy={f"${sy(y)}%.1f"} r="3" fill={s.color}><title>{s"${s.name} ${fmt(y)}"}</title></circle>
          } else NodeSeq.Empty}
          <text x={(Left + 10 + 150 * i).toString} y="14" font-size="11" fill={s.color}>{s.name}</text>
        </g>
      }}
    </svg>
  }

  private def legend: Node =
    <p class="bios-legend">{Stage.values().toSeq.zipWithIndex.map { case (s, i) =>
      <span style={s"display:inline-block;margin-right:1em"}><span style={
        s"display:inline-block;width:10px;height:10px;background:${StageColors(i)}"}></span> {s.name.toLowerCase}</span>
    }}</p>

  /** One worker's newest steps as stacked bars of stage durations, on a scale shared by all workers. */
  private def timeline(p: Progress, all: Vector[Progress]): Node = {
    def total(s: StepStages) = s.nanos.map(math.max(_, 0L)).sum
    val max = math.max(1L, all.flatMap(_.recent).map(total).maxOption.getOrElse(1L))
    val rowH = 14
    val labelW = 70
    val width = 560
    val height = math.max(1, p.recent.size) * rowH + 20
    <div class="bios-timeline" data-rank={p.rank.toString}>
      <svg xmlns="http://www.w3.org/2000/svg" width={width.toString} height={height.toString}
           style="background:#fff;border:1px solid #ddd">
        <text x="4" y="12" font-size="11">{s"rank ${p.rank} (scale: ${fmt(max / 1e6)} ms)"}</text>
        {p.recent.zipWithIndex.map { case (s, row) =>
          val y = 18 + row * rowH
          var x = labelW.toDouble
          <g>
            <text x="4" y={(y + 10).toString} font-size="10">{s"step ${s.step + 1}"}</text>
            {s.nanos.zipWithIndex.filter(_._1 > 0).map { case (n, i) =>
              val w = n.toDouble / max * (width - labelW - 10)
              val rect = <rect x={f"$x%.1f"} y={y.toString} width={f"${math.max(w, 0.5)}%.1f"}
                height={(rowH - 3).toString} fill={StageColors(i)}><title>{
                s"${Stage.values()(i).name.toLowerCase} ${fmt(n / 1e6)} ms"}</title></rect>
              x += w
              rect
            }}
          </g>
        }}
      </svg>
    </div>
  }

  def json(fits: Vector[FitBoard.Fit]): JValue = JObject("fits" -> JArray(fits.toList.map { f =>
    def points(v: Vector[(Double, Double)]) = JArray(v.toList.map { case (x, y) => JArray(List(num(x), num(y))) })
    JObject(
      "run" -> JString(f.run), "state" -> JString(f.state), "workers" -> JInt(f.workers),
      "error" -> JString(f.error), "startedMillis" -> JLong(f.startedMillis), "endedMillis" -> JLong(f.endedMillis),
      "finalLoss" -> num(f.finalLoss),
      "step" -> JLong(f.latest.map(_.step).getOrElse(0L)),
      "totalSteps" -> JLong(f.latest.map(_.totalSteps).getOrElse(-1L)),
      "epoch" -> JInt(BigInt(f.latest.map(_.epoch + 1).getOrElse(0))),
      "loss" -> points(f.loss), "throughput" -> points(f.throughput),
      "validationMetric" -> JString(f.validationLabel), "validation" -> points(f.validation),
      "ranks" -> JArray(f.ranks.toList.map { p =>
        val s = f.summaries.get(p.rank)
        JObject(
          "rank" -> JInt(p.rank), "executor" -> JString(p.executorId),
          "gpu" -> JString(if (p.gpu.nonEmpty) p.gpu else s.flatMap(_.gpu).getOrElse("")),
          "step" -> JLong(p.step), "loss" -> num(p.loss), "samplesPerSecond" -> num(p.samplesPerSecond),
          "inputWaitFraction" -> num(p.inputWaitFraction), "deviceIdleFraction" -> num(p.deviceIdleFraction),
          "prefetchDepth" -> s.map(w => JInt(w.prefetchDepth)).getOrElse(JNull),
          "stepMedianMillis" -> s.map(w => num(w.stepMedianMillis)).getOrElse(JNull),
          "recent" -> JArray(p.recent.toList.map { r =>
            JObject("step" -> JLong(r.step + 1), "stageNanos" -> JObject(Stage.values().toList.zip(r.nanos).map {
              case (stage, n) => JField(stage.name.toLowerCase, JLong(n))
            }))
          }))
      }))
  }))

  private def num(d: Double): JValue = if (d.isNaN || d.isInfinite) JNull else JDouble(d)
  private def fmt(d: Double): String = if (d.isNaN) "-" else f"$d%.4f"
  private def pct(d: Double): String = f"${100 * d}%.1f%%"
}
