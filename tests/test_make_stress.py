"""datasets/make_stress.py: the US-plates-on-cars variant puts the plate where its labels say, and
its third set shows only plates no model trained on, on cars the others do not use; the hard
conditions darken, smear (hard or mild) and defocus as they claim."""

import cv2
import numpy as np


def test_a_plate_on_a_car_is_pasted_at_its_box_and_the_old_plate_is_blurred(make_stress):
    rng = np.random.default_rng(0)
    host = rng.integers(0, 256, (960, 1280, 3), dtype=np.uint8)  # a 4:3 photo, all texture
    old_plate = (700, 600, 200, 50)  # low in the photo: the 720-row frame is cut around it
    plate = np.zeros((60, 120, 3), np.uint8)
    plate[:, :60] = 255  # half white, half black: resized, still two flat halves

    frame, (x, y, w, h) = make_stress.plate_on_car(host, old_plate, plate, (1280, 720), 90)

    assert frame.shape == (720, 1280, 3)
    assert (w, h) == (90, 45)
    assert 0 <= x and x + w <= 1280 and 0 <= y and y + h <= 720
    assert (frame[y : y + h, x + 5 : x + 40] == 255).all() and (frame[y : y + h, x + 50 : x + 85] == 0).all()
    # around the pasted plate, inside the old plate's (blurred) area: far smoother than the texture
    beside = frame[y : y + h, max(0, x - 40) : x].astype(float)
    assert beside.std() < 0.3 * host.astype(float).std()


def test_night_darkens_and_adds_grain_and_blur_smears_vertical_edges_more_than_horizontal_ones(make_stress):
    frame = np.full((120, 160, 3), 200, np.uint8)
    frame[:, 80:] = 40  # one vertical edge: motion along the line smears it
    frame[60:, :] = 120  # one horizontal edge: near-horizontal motion barely moves it
    rng = np.random.default_rng(0)

    dark = make_stress.night(frame, rng).astype(float)
    assert dark[:50, :70].mean() < 0.5 * 200  # the bright area now at most half as bright
    assert dark[:50, :70].std() > 0.5  # and grainy where it was flat (a flat block stays flat through JPEG alone)

    smeared = make_stress.motion_blur(frame, rng).astype(float)
    across_vertical = np.abs(np.diff(smeared[20, 60:100, 0])).max()
    across_horizontal = np.abs(np.diff(smeared[40:80, 30, 0])).max()
    assert across_vertical < 0.5 * 160  # the 160-level step is spread over several pixels
    assert across_horizontal > across_vertical


def test_a_mild_smear_spreads_a_vertical_edge_over_fewer_pixels_than_the_hard_one(make_stress):
    frame = np.full((120, 160, 3), 200, np.uint8)
    frame[:, 80:] = 40  # one vertical edge, 160 levels

    def edge_width(smear) -> int:  # pixels of row 60 strictly between the two flat levels
        widths = []
        for seed in range(8):
            row = smear(frame, np.random.default_rng(seed))[60, 60:100, 0].astype(float)
            widths.append(int(((row > 40 + 16) & (row < 200 - 16)).sum()))
        return max(widths)

    mild, hard = edge_width(make_stress.mild_motion_blur), edge_width(make_stress.motion_blur)
    assert 1 <= mild <= 6  # smeared, by at most 5 px and the slight defocus
    assert hard > mild


def test_defocus_softens_edges_alike_in_every_direction(make_stress):
    frame = np.full((120, 160, 3), 200, np.uint8)
    frame[:, 80:] = 40  # a vertical edge
    frame[60:, :] = 120  # a horizontal edge
    soft = make_stress.defocus(frame, np.random.default_rng(0)).astype(float)
    across_vertical = np.abs(np.diff(soft[20, 60:100, 0])).max()
    across_horizontal = np.abs(np.diff(soft[40:80, 30, 0])).max()
    assert across_vertical < 0.5 * 160 and across_horizontal < 0.5 * 80  # both steps spread over pixels
    assert 0.5 < (across_vertical / 160) / (across_horizontal / 80) < 2  # alike: no direction smeared more


def test_the_third_us_set_shows_only_plates_no_model_trained_on_and_unseen_cars(make_stress, tmp_path, monkeypatch):
    from platesearch.datasets import is_validation_plate

    rng = np.random.default_rng(0)
    shared, out = tmp_path / "shared", tmp_path / "stress"
    plates = [f"PL{n:04d}" for n in range(60)]
    sets = {"openalpr-us-crops": [(f"images/{p}.png", p) for p in plates]}
    for name in ("openalpr-eu", "openalpr-br"):
        sets[name] = [(f"images/{name}-{n}.png", f"H{n}") for n in range(8)]
    for name, rows in sets.items():
        (shared / name / "images").mkdir(parents=True)
        box = ",20,30,40,12" if name != "openalpr-us-crops" else ""
        header = "image,plate" + (",x,y,w,h" if box else "")
        (shared / name / "labels.csv").write_text("\n".join([header, *(f"{i},{p}{box}" for i, p in rows)]) + "\n")
        for image, _ in rows:
            shape = (20, 60, 3) if not box else (90, 120, 3)
            cv2.imwrite(str(shared / name / image), rng.integers(0, 256, shape, dtype=np.uint8))
    monkeypatch.setattr(make_stress, "SHARED", shared)
    monkeypatch.setattr(make_stress, "US_ON_CARS_FRAME", (160, 90))
    first_hosts = 10  # the first set's 10 photos take the first 10 hosts (5 of each host set, in turn)
    monkeypatch.setattr(
        make_stress,
        "US_ON_CARS",
        {
            "first": (0, ("openalpr-eu", "openalpr-br"), 0, 1),
            "third": (None, ("openalpr-eu", "openalpr-br"), first_hosts, 2),
        },
    )
    for name in make_stress.US_ON_CARS:
        make_stress.make_us_on_cars(name, out, limit=10)

    first, third = (make_stress._rows(out / name) for name in ("first", "third"))
    held_out = [p for p in plates if is_validation_plate(p)]
    unseen = [p for p in held_out if p not in {row["plate"] for row in first}]
    assert len(third) == 6  # as many as the 16 hosts leave after the first 10
    assert [row["plate"] for row in third] == unseen[:6]
    hosts_of = [{row["source"].split(" on ")[1] for row in rows} for rows in (first, third)]
    assert not hosts_of[0] & hosts_of[1]  # the third set's cars are not the first's
    assert hosts_of[1] == {
        f"{name}/images/{name}-{n}.png" for name in ("openalpr-eu", "openalpr-br") for n in (5, 6, 7)
    }
