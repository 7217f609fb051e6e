"""sparkeo: openEO process graphs over satellite imagery as PySpark batch jobs.

The ``sparkeo`` package is the ground floor every other package imports: settings, errors,
object storage, the GDAL/rasterio environment and logging. ``sparkeo.cli`` wires the domain
packages (``layercatalog``, ``jobs``, ``sparkapps``, ``tracker``) together; nothing imports it.
"""

__version__ = "0.1.0"
