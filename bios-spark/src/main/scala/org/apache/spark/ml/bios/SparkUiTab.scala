package org.apache.spark.ml.bios

import jakarta.servlet.http.HttpServletRequest
import org.apache.spark.SparkContext
import org.apache.spark.ui.{SparkUI, SparkUITab, UIUtils, WebUIPage}
import org.json4s.JValue

import scala.xml.Node

/**
 * A tab in the driver's own web UI (Spark's tab and page classes are `private[spark]`): one page
 * at `/<prefix>/` in Spark's frame (header, tabs, styles) and its JSON at `/<prefix>/json`.
 */
object SparkUiTab {

  /**
   * Adds the tab `prefix` (shown capitalised) to the UI of `sc`, when it has one
   * (`spark.ui.enabled`); `content` and `json` are asked on every request. Returns whether it did.
   */
  def attach(sc: SparkContext, prefix: String, title: String, content: () => Seq[Node], json: () => JValue): Boolean =
    sc.ui match {
      case Some(ui) =>
        ui.attachTab(new Tab(ui, prefix, title, content, json))
        true
      case None => false
    }

  private final class Tab(ui: SparkUI, prefix: String, title: String, content: () => Seq[Node], json: () => JValue)
      extends SparkUITab(ui, prefix) { tab =>
    attachPage(new WebUIPage("") {
      override def render(request: HttpServletRequest): Seq[Node] =
        UIUtils.headerSparkPage(request, title, content(), tab)

      override def renderJson(request: HttpServletRequest): JValue = json()
    })
  }
}
