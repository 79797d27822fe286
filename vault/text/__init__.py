"""Text rules, pure and without a database: the search normaliser, searchable names and the query language."""
