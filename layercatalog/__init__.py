"""What data exists: collections, bands, item search, access groups and sample data.

Imports no other domain package (DESIGN.md). Modules:

- ``model``: the value objects shared with ``jobs`` (CollectionInfo, ItemRecord, ItemQuery, ...)
- ``catalog``: ``LayerCatalog.load(uri, settings)`` -> ``collections``/``get``/``search``/``summary``
- ``document``: layercatalog.json entries <-> CollectionInfo; ``layer_entry_for_stac_collection``
- ``query``: bbox in any CRS, ISO 8601 intervals -> ``make_query``
- ``properties``: openEO ``properties`` callbacks and ``--filter`` expressions -> PropertyFilter
- ``stacwalk`` / ``index`` / ``items``: one walk of a static STAC catalog into a cached SQLite R*Tree
  index of compact item records, turned into ItemRecords per collection at search time
- ``stacapi``: a STAC API collection searched through pystac-client into the same compact records
- ``source``: ``open_source(url)``, the ``ItemSource`` interface both of them implement
- ``summary``: item count, dates, coverage, estimated input pixels and bytes of a query
- ``samplescene`` / ``sample``: the deterministic Sentinel-2-like sample catalog
- ``errors``: the CatalogError (UserError) family, and StacApiError (RunError)
"""
