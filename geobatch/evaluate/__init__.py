"""Looking at what a run produced: scores against gold data and the HTML report.

`metrics` (token and entity level) and `metrics_geo` (geocoding distances) score a run;
`report` writes `geobatch report`'s HTML, with `report_map` and `report_reliability` drawing its figures.
"""
