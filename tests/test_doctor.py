"""The environment check finds MANO where the README says to put it and names fixes."""

from __future__ import annotations

from pathlib import Path

from handoccnet_lite import doctor


def test_find_mano_file_in_dir_and_mano_subdir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("HANDOCCNET_MANO_DIR", raising=False)
    assert doctor.find_mano_file() is None
    (tmp_path / "mano").mkdir()
    (tmp_path / "mano" / "MANO_RIGHT.pkl").write_bytes(b"x")
    assert doctor.find_mano_file(tmp_path) == tmp_path / "mano" / "MANO_RIGHT.pkl"
    (tmp_path / "MANO_RIGHT.npz").write_bytes(b"x")
    monkeypatch.setenv("HANDOCCNET_MANO_DIR", str(tmp_path))
    assert doctor.find_mano_file() == tmp_path / "MANO_RIGHT.npz"


def test_missing_mano_check_says_how_to_get_it(monkeypatch) -> None:
    monkeypatch.delenv("HANDOCCNET_MANO_DIR", raising=False)
    check = doctor.check_mano()
    assert check.status == "info"
    assert "HANDOCCNET_MANO_DIR" in check.detail and "SynthHand" in check.detail


def test_report_has_one_line_per_check() -> None:
    lines = doctor.report().splitlines()
    assert len(lines) == len(doctor.run_checks())
    assert any("torch" in line for line in lines)
    assert all(line.startswith(("[ok]", "[info]", "[warn]")) for line in lines)


def test_bundled_model_caveat_is_computed_from_the_results() -> None:
    q = doctor.bundled_model_quality()
    line = doctor.bundled_model_caveat()
    if q is None:
        assert "No evaluation recorded" in line
    else:
        ref = q.get("mean_hand_pa_mpjpe", q["mean_pose_pa_mpjpe"])  # the stronger constant
        assert f"{q['bundled_pa_mpjpe']:.2f}" in line and f"{ref:.2f}" in line
        assert ("WORSE" in line) == (q["bundled_pa_mpjpe"] >= ref)
        gain = 1 - q["bundled_pa_mpjpe"] / ref
        assert ("under-trained" in line) == (gain < doctor.UNDER_TRAINED_GAIN)


def test_bundled_model_quality_reads_the_checkpoint_json_first(tmp_path: Path, monkeypatch) -> None:
    import json

    ckpt = tmp_path / "lite_synthocc.pt"
    evaluation = {"pa_mpjpe": 9.0, "mean_pose_pa_mpjpe": 20.0, "mean_hand_pa_mpjpe": 16.0}
    ckpt.with_suffix(".json").write_text(json.dumps({"evaluation": evaluation}))
    monkeypatch.setattr(doctor, "BUNDLED_CHECKPOINT", ckpt)
    q = doctor.bundled_model_quality()
    assert q == {"bundled_pa_mpjpe": 9.0, "mean_pose_pa_mpjpe": 20.0, "mean_hand_pa_mpjpe": 16.0}
    line = doctor.bundled_model_caveat()
    assert "9.00 mm vs 16.00 mm" in line and "44% better." in line and "under-trained" not in line
    assert "AUC" not in line  # no attention measures recorded: none quoted
    evaluation |= {"gate_auc": 0.93, "fit_ratio": 2.27, "fit_ratio_background": 1.54}
    ckpt.with_suffix(".json").write_text(json.dumps({"evaluation": evaluation}))
    line = doctor.bundled_model_caveat()
    assert "AUC 0.93" in line and "2.27x" in line and "background queries 1.54" in line
    # no evaluation in the .json: nothing is quoted (not another model's committed results)
    ckpt.with_suffix(".json").write_text(json.dumps({"note": "no evaluation"}))
    assert doctor.bundled_model_quality() is None
    assert "re-export" in doctor.bundled_model_caveat()


def test_data_samples_found_with_one_manifest_per_split(tmp_path: Path, monkeypatch) -> None:
    """A clean checkout has data_samples/synthocc/{train,test}/manifest.json: no warning."""
    assert doctor.check_data_samples().status == "ok"
    (tmp_path / "synthocc" / "train").mkdir(parents=True)
    (tmp_path / "synthocc" / "train" / "manifest.json").write_text("{}")
    monkeypatch.setattr(doctor, "DATA_SAMPLES_DIR", tmp_path)
    check = doctor.check_data_samples()
    assert check.status == "warn" and "synthocc/test" in check.detail
    assert "synthocc/train" not in check.detail and "data --samples" in check.detail


class _OpensMarker:
    """Unpickling this object would create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_mano_check_reads_the_file_and_reports_a_broken_one(tmp_path: Path, monkeypatch) -> None:
    import pickle

    import numpy as np
    from fixtures_real import fake_mano_arrays

    monkeypatch.setenv("HANDOCCNET_MANO_DIR", str(tmp_path))
    mano = tmp_path / "MANO_RIGHT.pkl"
    mano.write_bytes(b"not a pickle")
    check = doctor.check_mano()
    assert check.status == "warn" and "BROKEN" in check.detail and str(mano) in check.detail
    marker = tmp_path / "pwned"
    mano.write_bytes(pickle.dumps({"v_template": _OpensMarker(marker)}))
    check = doctor.check_mano()
    assert check.status == "warn" and "refusing" in check.detail and not marker.exists()
    mano.unlink()
    np.savez(tmp_path / "MANO_RIGHT.npz", **fake_mano_arrays())
    check = doctor.check_mano()
    assert check.status == "ok" and "778 vertices" in check.detail
