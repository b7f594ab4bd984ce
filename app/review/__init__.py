"""Expert review arithmetic: aggregating score sheets, ranking, award proposals (no database)."""
