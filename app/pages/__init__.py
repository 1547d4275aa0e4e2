"""Pages for people: the home page, HTML error pages, the API documentation (served offline)."""
