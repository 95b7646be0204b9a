"""Where ``dubclr embed`` puts its rows: Parquet part files, merged into one table.

Each process appends finished files to its own ``parts/rank{r}-{n}.parquet``; a file is
written only once all its windows are embedded, so a re-run skips exactly the files that
are in some part. ``embeddings.parquet`` is rebuilt from the parts at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema([
    ("file", pa.string()),  # path relative to the input folder, '/'-separated
    ("modality", pa.string()),  # video | audio
    ("track", pa.string()),  # audio: track language ('und' if unknown); video: ''
    ("track_index", pa.int32()),  # audio: position in the title's tracks; video: -1
    ("default_track", pa.bool_()),
    ("window", pa.int32()),
    ("start", pa.float64()),  # seconds
    ("end", pa.float64()),
    ("crop", pa.int32()),  # 0 for audio and centre crops; 0-4 = tl, tr, bl, br, centre
    ("embedding", pa.list_(pa.float32())),
])
TABLE_NAME = "embeddings.parquet"
META_NAME = "metadata.json"


class EmbedStore:
    def __init__(self, out_dir: str | Path, rank: int = 0) -> None:
        self.out_dir = Path(out_dir)
        self.parts = self.out_dir / "parts"
        self.parts.mkdir(parents=True, exist_ok=True)
        self.rank = rank
        self._pending: list[dict] = []
        self._counter = len(list(self.parts.glob(f"rank{rank}-*.parquet")))

    def done(self) -> set[tuple[str, str]]:
        """(file, modality) pairs already embedded by any earlier or concurrent run."""
        seen: set[tuple[str, str]] = set()
        for part in sorted(self.parts.glob("*.parquet")):
            t = pq.read_table(part, columns=["file", "modality"]).to_pydict()
            seen.update(zip(t["file"], t["modality"]))
        return seen

    def add(self, rows: list[dict]) -> None:
        self._pending.extend(rows)

    def flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_pylist(self._pending, schema=SCHEMA)
        final = self.parts / f"rank{self.rank}-{self._counter:05d}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, final)  # a crash never leaves half a part behind
        self._counter += 1
        self._pending = []

    def merge(self) -> Path:
        """Rebuild ``embeddings.parquet`` from every part (sorted for stable output)."""
        tables = [pq.read_table(p) for p in sorted(self.parts.glob("*.parquet"))]
        table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
        if table.num_rows:
            table = table.sort_by([("file", "ascending"), ("modality", "ascending"),
                                   ("track_index", "ascending"), ("window", "ascending"),
                                   ("crop", "ascending")])
        final = self.out_dir / TABLE_NAME
        tmp = final.with_suffix(".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        return final

    def write_metadata(self, meta: dict) -> Path:
        path = self.out_dir / META_NAME
        old = json.loads(path.read_text()) if path.is_file() else {}
        errors = {**old.get("errors", {}), **meta.get("errors", {})}
        path.write_text(json.dumps({**meta, "errors": errors}, indent=2, default=str))
        return path
