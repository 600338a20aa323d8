"""A committed results file still describes the library: every setting the benchmark would run
today is in it, and the networks it measured have the parameters and MACs the library counts
today. When one does not, the failure names the command that re-measures it.

Counts are compared exactly: they are integers that the analytic profiler computes from the
architecture, so any difference means the network changed, never rounding."""

import itertools

import pytest

import mobilecnn
from conftest import load_benchmark
from mobilecnn import book, guidelines


def rerun(results, command=None) -> str:
    """The sentence a failure ends with: what to run to bring the file up to date."""
    command = command or results.records[0]["command"]
    return (f"benchmarks/results/{results.name.split(':')[0]}.json is out of date; "
            f"re-run: {command}")


def counted(name, setting, num_classes=10) -> dict:
    p = mobilecnn.profile(name, num_classes=num_classes, **setting)
    return {"params": p.params, "macs": p.macs}


def stale_deploy(results, settings, names) -> list:
    """What in ``deploy.json`` no longer matches the library, one message per architecture, each
    ending with the command that re-measures it."""
    stale = []
    for name in names:
        command = f"python benchmarks/deploy.py --update --architectures {name}"
        if name not in results["trained"]:
            stale.append(f"{name} is missing: {rerun(results, command)}")
            continue
        recorded = results["trained"][name]["setting"]
        if recorded != settings[name]:
            stale.append(f"{name} was measured at {recorded}, benchmarks/deploy.py now uses "
                         f"{settings[name]}: {rerun(results, command)}")
            continue
        today = counted(name, recorded)
        for row in (r for r in results["rows"] if r["architecture"] == name):
            if {k: row[k] for k in today} != today:
                stale.append(f"{name} {row['runtime']} {row['mode']}: the file has "
                             f"{row['params']} params and {row['macs']} MACs, the library "
                             f"counts {today}: {rerun(results, command)}")
    return stale


# Architectures whose deploy.json row is still being measured: CondenseNet's Keras training (its
# grouped 3x3 convolutions train slowly in TensorFlow on CPU) had not finished when the session
# that added it stopped. Each entry must go once its row is in the file (a test below checks).
PENDING = {"condensenet": "python benchmarks/deploy.py --update --architectures condensenet"}


def test_deploy_results_hold_every_architecture_at_todays_setting():
    settings = load_benchmark("deploy").SETTINGS
    assert list(settings) == mobilecnn.list_architectures()
    names = [n for n in mobilecnn.list_architectures() if n not in PENDING]
    stale = stale_deploy(book.results("deploy"), settings, names)
    assert not stale, "\n".join(stale)


def test_pending_architectures_are_still_missing():
    """The PENDING list only shrinks: an architecture whose row has landed leaves it."""
    trained = book.results("deploy")["trained"]
    landed = sorted(n for n in PENDING if n in trained)
    assert not landed, f"remove {landed} from PENDING in tests/test_results_current.py"


def test_a_new_or_changed_architecture_names_the_command_to_rerun():
    results = book.results("deploy")
    settings = load_benchmark("deploy").SETTINGS
    # the architectures the file holds (the test above reports any it lacks)
    names = [n for n in mobilecnn.list_architectures() if n in results["trained"]]
    without = book.Results("deploy", {**results, "trained": {
        k: v for k, v in results["trained"].items() if k != names[-1]}})
    assert stale_deploy(without, settings, names) == [
        f"{names[-1]} is missing: benchmarks/results/deploy.json is out of date; re-run: "
        f"python benchmarks/deploy.py --update --architectures {names[-1]}"]
    changed = {**settings, names[0]: {**settings[names[0]], "image_size": 48}}
    (message,) = stale_deploy(results, changed, names)
    assert message.endswith(f"python benchmarks/deploy.py --update --architectures {names[0]}")


def test_mobilenet_v2_ablation_results_match_the_library():
    script = load_benchmark("mobilenet_v2_ablation")
    results = book.results("mobilenet_v2_ablation")
    variants = {(r["projection"], r["residual"]) for r in results["runs"]}
    assert variants == set(itertools.product(script.PROJECTIONS, script.RESIDUALS)), rerun(results)
    for run in results["runs"]:
        setting = dict(alpha=run["alpha"], projection=run["projection"],
                       residual=run["residual"], image_size=run["image_size"])
        today = counted("mobilenet_v2", setting)
        assert {k: run[k] for k in today} == today, f"{setting}: {rerun(results)}"


def test_squeezenet_design_space_results_match_the_library():
    script = load_benchmark("squeezenet_design_space")
    results = book.results("squeezenet_design_space")
    plan = {study: [list(script.settings_key(s)) for s in points]
            for study, points in script.studies().items()}
    assert results["studies"] == plan, rerun(results)
    for run in results["runs"]:
        design = dict(SR=run["SR"], pct3x3=run["pct3x3"], bypass=run["bypass"])
        today = counted("squeezenet", dict(design, version=run["version"],
                                           image_size=run["image_size"]))
        assert {k: run[k] for k in today} == today, f"{design}: {rerun(results)}"
        paper = script.model_size(**design)
        assert {k: run[k] for k in paper} == paper, f"{design}: {rerun(results)}"


def test_shufflenet_v2_guideline_results_match_the_library():
    results = book.results("shufflenet_v2_guidelines")
    settings = results["settings"]
    measured = {(r["guideline"], r["variant"], r["scale"], r["framework"]): r
                for r in results["rows"]}
    for g in guidelines.GUIDELINES:
        for scale in settings["scales"]:
            for variant, net in guidelines.networks(g, scale, settings["size"]):
                today = guidelines.counts(net)
                for framework in guidelines.FRAMEWORKS:
                    key = (g, variant, scale, framework)
                    assert key in measured, f"{key} is missing: {rerun(results)}"
                    row = measured[key]
                    assert {k: row[k] for k in today} == today, f"{key}: {rerun(results)}"


def test_mobilenet_v3_last_stage_results_match_the_library():
    results = book.results("mobilenet_v3").part("last_stage")
    for stage in ("original", "efficient"):
        p = mobilecnn.profile(results["name"], image_size=results["image_size"], last_stage=stage)
        assert (results["macs"][stage], results["trainable_params"][stage]) == (
            p.macs, p.trainable_params), f"{stage}: {rerun(results)}"


def test_fashion_baseline_results_match_the_library():
    script = load_benchmark("fashion_baseline")
    results = book.results("fashion_baseline")
    assert results["settings"]["configs"] == script.CONFIGS, rerun(results)
    assert_runs_counted_as_today(results)


def assert_runs_counted_as_today(results):
    """Each training run of a sweep file has today's parameter and MAC counts."""
    for run in results["runs"]:
        setting = dict(run["metaparams"], image_size=run["image_size"])
        today = counted(run["name"], setting)
        assert {k: run[k] for k in today} == today, f"{run['name']} {setting}: {rerun(results)}"


def test_igcv_study_results_match_the_library():
    assert_runs_counted_as_today(book.results("igcv_study"))


def test_tflm_results_hold_every_architecture_at_todays_setting():
    results = book.results("tflm")
    rows = {r["architecture"]: r for r in results["rows"]}
    settings = load_benchmark("tflm").deploy_settings()   # deploy.py's: the files it measures
    stale = []
    for name in mobilecnn.list_architectures():
        setting = dict(settings[name])
        row = rows.get(name)
        if row is None or row["setting"] != setting:
            stale.append(f"{name}: {rerun(results, 'python benchmarks/tflm.py')}")
            continue
        p = mobilecnn.profile(name, num_classes=10, **setting)
        if (row["macs"], row["params"]) != (p.macs, p.params):   # params: the Keras count
            stale.append(f"{name} counts: {rerun(results, 'python benchmarks/tflm.py')}")
    assert not stale, "\n".join(stale)


@pytest.mark.parametrize("name", sorted(p.stem for p in book.RESULTS_DIR.glob("*.json")))
def test_every_results_file_is_checked_against_the_library(name):
    """A new results file needs a test above (or a reason here why nothing in it can go stale)."""
    checked = {"deploy", "mobilenet_v2_ablation", "squeezenet_design_space",
               "shufflenet_v2_guidelines", "mobilenet_v3", "fashion_baseline", "igcv_study",
               "tflm"}
    # shufflenet_v1.json: its groups timing is one convolution of a fixed shape (no library
    # setting), and its shuffle ablation records no counts; its settings are the script's.
    unchecked = {"shufflenet_v1"}
    assert name in checked | unchecked, f"benchmarks/results/{name}.json has no staleness test"
