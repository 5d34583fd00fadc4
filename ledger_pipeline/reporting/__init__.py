"""What a person reads about the books: the month-end close as a table, a chart, HTML and CSV."""
