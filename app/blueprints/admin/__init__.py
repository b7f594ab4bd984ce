"""The city administrator's pages: calls, entries, bulk moves, ranking, programmes."""
