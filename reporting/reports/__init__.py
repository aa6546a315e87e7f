"""One module per report: its materialized view (the SQL definition, columns and key) and its
`REPORT` declaration (route, ordering, filters, admin options, maintenance). reporting.catalog
lists them in the global lock order."""
