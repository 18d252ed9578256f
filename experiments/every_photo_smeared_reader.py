"""pipeline_at_default.py with every photo's candidates also read by the recognizer fine-tuned on
smeared text, as if every photo were smeared (the photo itself unchanged): what that reader
would do beyond smeared photos (experiments/RESULTS.md §0, "A reader for smeared text").
No photo is deconvolved either, so it is for sets without smeared photos (not the blurred
ones). It patches localize in this process, so index in process: pass --workers 0.

Run: cd experiments && ../.venv/bin/python every_photo_smeared_reader.py --workers 0 \\
         --indexes ../runs/every-photo-reader --out pipeline_every_photo_smeared_reader.json [SET ...]
"""

import runpy
from pathlib import Path

import platesearch.localize as localize

# the same pixels in another object: localize then takes the photo as deconvolved
localize.deblurred_if_blurred = lambda image: image.copy()
runpy.run_path(str(Path(__file__).with_name("pipeline_at_default.py")), run_name="__main__")
