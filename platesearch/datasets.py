"""Labelled datasets: a folder with `labels.csv` (`image,plate[,x,y,w,h]`), images relative to it."""

from __future__ import annotations

import csv
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from platesearch.plates import PlateTextError, normalize_plate

Box = tuple[int, int, int, int]  # x, y, width, height in photo pixels


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    plate: str
    box: Box | None = None


@dataclass
class LabelledDataset:
    root: Path
    items: list[LabelledImage]
    bad_rows: list[str] = field(default_factory=list)  # "line N: reason", one per skipped row

    @property
    def plates(self) -> list[str]:
        """Distinct plate texts, in first-seen order."""
        return list(dict.fromkeys(item.plate for item in self.items))


def load_dataset(root: Path | str, labels: Path | str | None = None) -> LabelledDataset:
    """Read `root/labels.csv`; rows that cannot be used are skipped and reported in `bad_rows`.

    `labels` reads another file instead (corrected labels kept outside a dataset one may not
    write into); its image paths are still relative to `root`.
    """
    root = Path(root)
    own = labels is None
    labels = root / "labels.csv" if labels is None else Path(labels)
    if not labels.is_file():
        problem = f"{root} is not a dataset: {labels} is missing" if own else f"labels file {labels} not found"
        raise FileNotFoundError(f"{problem} (columns: image,plate[,x,y,w,h])")
    items: list[LabelledImage] = []
    bad: list[str] = []
    with labels.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"image", "plate"} <= set(reader.fieldnames):
            raise ValueError(f"{labels}: the header must name at least the columns image,plate")
        has_box = {"x", "y", "w", "h"} <= set(reader.fieldnames)
        for line, row in enumerate(reader, start=2):
            try:
                plate = normalize_plate(row["plate"] or "")
                path = root / (row["image"] or "")
                if not row["image"] or not path.is_file():
                    raise ValueError(f"image {row['image']!r} not found")
                box = None
                if has_box and row["x"]:
                    box = tuple(int(float(row[k])) for k in ("x", "y", "w", "h"))
                    if box[2] <= 0 or box[3] <= 0:
                        raise ValueError(f"box {box} has no area")
                items.append(LabelledImage(path, plate, box))  # type: ignore[arg-type]
            except (PlateTextError, ValueError) as error:
                bad.append(f"line {line}: {error}")
    return LabelledDataset(root, items, bad)


VALIDATION_BUCKETS = 4  # one plate text in four is held out of training


def is_validation_plate(plate: str) -> bool:
    """The fixed split: a plate text is held out for validation by a hash of the text alone.

    Every crop and photo of one plate falls on the same side, in every dataset, on every machine.
    """
    return zlib.crc32(plate.encode("ascii")) % VALIDATION_BUCKETS == 0
