"""``sparkeo sample-data DIR``: write the deterministic Sentinel-2-like sample catalog."""
from __future__ import annotations

import click


@click.command("sample-data")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--size", default=512, show_default=True, type=click.IntRange(16, 16384),
              help="Image size in pixels (above 2048 a 2048 px series mirrored at its edges).")
@click.option("--dates", default=8, show_default=True, type=click.IntRange(1, 500), help="Number of dates.")
@click.option("--bands", default="B02,B03,B04,B08,SCL", show_default=True, help="Bands to write.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed (same seed, same files).")
@click.option("--block", default="256", show_default=True,
              help="Source layout: 256 (tiled GeoTIFF), 512/1024/2048 (GDAL COG driver), strip (striped GeoTIFF).")
def sample_data(directory, size, dates, bands, seed, block):
    """Write sample scenes, a static STAC catalog and a layercatalog.json into DIRECTORY; print its path."""
    from layercatalog.sample import write_sample

    names = tuple(b.strip() for b in bands.split(",") if b.strip())
    click.echo(write_sample(directory, size=size, dates=dates, bands=names, seed=seed, block=block))
