"""``<telescope>/prenight_briefing`` materialized for a simulated night: figures archived next to
the nominal simulation, shown on the materialization, real images (decodable, not blank)."""

from __future__ import annotations

import base64
import io
import re
import socket
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
from dagster import materialize
from lsst.resources import ResourcePath

from vseq_assets.briefing import prenight_briefing_asset
from vseq_assets.prenight_index import prenight_index_asset
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
        assets = [prenight_index_asset("simonyi"), prenight_briefing_asset("simonyi")]
        result = materialize(assets, partition_key=NIGHT, resources={"archive": resource})
        assert result.success
        meta = materialized(result, "simonyi", "prenight_briefing")
        assert meta["nominal_uuid"] == nominal
        assert meta["visit_count"] == 300 and meta["variant_count"] == 3
        assert "| variant |" in meta["variants"]

        files = vsa.metadata.get_files(nominal)
        visits_dir = vsa.metadata.get_visitseq_url(nominal).rsplit("/", 1)[0]
        embedded = dict(re.findall(r"!\[(\w+)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", meta["report"]))
        assert set(embedded) == set(FIGURES)
        for name in FIGURES:
            url, sha256 = files[f"briefing_{name}"]
            assert url == f"{visits_dir}/briefing_{name}.png"  # next to the simulation's visits
            assert meta[f"{name}_url"] == url
            png = ResourcePath(url).read()
            assert png.startswith(b"\x89PNG") and vsa.metadata.get_checksum(url) == sha256
            assert base64.b64decode(embedded[name]) == png  # the UI shows what was archived
            assert_real_image(png)

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

        # Rebuilding the briefing replaces the figures in place.
        again = materialize(assets[1:], partition_key=NIGHT, resources={"archive": resource})
        assert again.success and set(vsa.metadata.get_files(nominal)) == {f"briefing_{n}" for n in FIGURES}
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
