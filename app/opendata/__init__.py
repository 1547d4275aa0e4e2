"""The registry as open data: public organisation ids and pages, external identifiers,
the Reconciliation Service API 0.2, and Wikidata enrichment (issues 16 and 12.5)."""
