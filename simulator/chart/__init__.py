"""The paper chart: what a student reads and enters into the EHR (``chart.html`` and the in-app viewer)."""

from simulator.chart.render import ChartPage, chart_pages, render_chart_html

__all__ = ["ChartPage", "chart_pages", "render_chart_html"]
