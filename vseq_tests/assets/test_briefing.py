"""``<telescope>/prenight_briefing`` materialized for a simulated night: figures archived next to
the nominal simulation, shown in place on the materialization through http links to the figure
server (never embedded, never file://), real images (decodable, not blank)."""

from __future__ import annotations

import io
import re
import socket
import threading
import urllib.request
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
from dagster import materialize
from lsst.resources import ResourcePath

from vseq_assets.briefing import prenight_briefing_asset
from vseq_assets.prenight_index import prenight_index_asset
from vseq_assets.reporting import INLINE_MARKDOWN_LIMIT
from vseq_resources import figure_server
from vseq_resources.dagster_resources import ArchiveResource
from vseq_resources.readers import ArchiveReader, load_partition
from vseq_tests.assets.helpers import index_resource, materialized
from vseq_tests.resources.readers_support import record_sim

NIGHT = "2026-04-11"
NIGHTS = ("2026-04-11", "2026-04-12", "2026-04-13")
FIGURES = ("sky", "night", "variants", "plausibility")


def assert_real_image(png: bytes) -> None:
    image = mpimg.imread(io.BytesIO(png), format="png")
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    pixels = image[..., :3].reshape(-1, 3)
    assert float(pixels.var()) > 0.001
    colours = np.unique(np.round(pixels * 255).astype(np.uint8), axis=0)
    assert len(colours) > 20  # axes, text and several band colours, not a blank canvas


def test_briefing_of_a_simulated_night(archive_resource: ArchiveResource, tmp_path: Path) -> None:
    resource = index_resource(archive_resource, tmp_path)
    vsa = resource.open()
    try:
        nominal = record_sim(vsa, "Nominal start and overhead, ideal conditions", NIGHTS, per_night=300)
        record_sim(
            vsa,
            "Start delayed by 60 minutes",
            NIGHTS,
            ("prenight", "ideal", "delay_60"),
            "2026-04-11T14:05:00+00:00",
            per_night=250,
            seed=11,
        )
        record_sim(
            vsa,
            "Degraded seeing",
            NIGHTS,
            ("prenight", "degraded_seeing"),
            "2026-04-11T14:10:00+00:00",
            per_night=200,
            seed=21,
        )
        server = figure_server.make_server(vsa.settings.store_uri, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        http_base = figure_server.server_url(*server.server_address[:2])
        served = ArchiveResource(
            database_url=resource.database_url,
            db_schema=resource.db_schema,
            archive_uri=resource.archive_uri,
            prenight_index_uri=resource.prenight_index_uri,
            state_dir=resource.state_dir,
            store_http_url=http_base,
        )
        assets = [prenight_index_asset("simonyi"), prenight_briefing_asset("simonyi")]
        result = materialize(assets, partition_key=NIGHT, resources={"archive": served})
        assert result.success
        meta = materialized(result, "simonyi", "prenight_briefing")
        (event,) = [
            e.materialization
            for e in result.get_asset_materialization_events()
            if e.materialization.asset_key.path[-1] == "prenight_briefing"
        ]
        assert next(iter(event.metadata)) == "figures"  # the first entry: where a user looks first
        text = repr(event.metadata)
        assert "base64" not in text and "data:image" not in text and "file://" not in text, text
        assert meta["nominal_uuid"] == nominal
        assert meta["visit_count"] == 300 and meta["variant_count"] == 3
        assert "| variant |" in meta["variants"]

        files = vsa.metadata.get_files(nominal)
        visits_dir = vsa.metadata.get_visitseq_url(nominal).rsplit("/", 1)[0]
        # Shown in place (Markdown under the UI's limit), each image linking to the figure server.
        assert len(meta["figures"]) < INLINE_MARKDOWN_LIMIT
        shown = dict(re.findall(r"\[!\[(\w+)\]\((http://[^)]+)\)\]", meta["figures"]))
        assert set(shown) == set(FIGURES)
        for name in FIGURES:
            url, sha256 = files[f"briefing_{name}"]
            assert url == f"{visits_dir}/briefing_{name}.png"  # next to the simulation's visits
            assert meta[f"{name}_url"] == shown[name] and shown[name].startswith(http_base)
            png = ResourcePath(url).read()
            assert png.startswith(b"\x89PNG") and vsa.metadata.get_checksum(url) == sha256
            with urllib.request.urlopen(shown[name], timeout=10) as answer:
                assert answer.read() == png  # the browser gets what was archived
            assert_real_image(png)
        server.shutdown()
        server.server_close()

        # The snapshots list the figures too, so readers without the database find them.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        offline = ArchiveReader(
            f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres",
            vsa.metadata.schema,
            vsa.settings.index_uri,
        )
        for night in NIGHTS:
            listed = offline.prenight_index(night).loc[nominal, "files"]
            assert {f"briefing_{n}" for n in FIGURES} <= set(listed)
        figures = load_partition("simonyi/prenight_briefing", NIGHT, reader=offline)
        assert figures == {f"briefing_{n}": files[f"briefing_{n}"][0] for n in FIGURES}

        # Rebuilding the briefing replaces the figures in place. Without an http URL for the store
        # the entries are the files' locations (to copy), never links a browser cannot open.
        again = materialize(assets[1:], partition_key=NIGHT, resources={"archive": resource})
        assert again.success and set(vsa.metadata.get_files(nominal)) == {f"briefing_{n}" for n in FIGURES}
        plain = materialized(again, "simonyi", "prenight_briefing")
        assert "vseq-services start" in plain["figures"] and "](" not in plain["figures"]
        assert all(plain[f"{n}_url"] == files[f"briefing_{n}"][0] for n in FIGURES)
        (event,) = [e.materialization for e in again.get_asset_materialization_events()]
        assert all(type(event.metadata[f"{n}_url"]).__name__ == "PathMetadataValue" for n in FIGURES)
    finally:
        vsa.metadata.close()


def test_briefing_without_simulations_fails_clearly(
    archive_resource: ArchiveResource, tmp_path: Path
) -> None:
    resource = index_resource(archive_resource, tmp_path)
    result = materialize(
        [prenight_briefing_asset("simonyi")],
        partition_key="2026-05-01",
        resources={"archive": resource},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "no matching simulations" in failure.to_string()
