"""Looking at what a run produced: scores against gold data and the HTML report.

`metrics` (token and entity level) and `metrics_geo` (geocoding distances) score a run;
`report_data` reads a run's output for `geobatch report` and `report` writes its HTML, with `report_map`
and `report_reliability` drawing its figures.
"""
