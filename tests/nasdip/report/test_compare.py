"""``compare --plot``'s figure: titles, units, integer ticks, distinct labels, a row of panels per task and reward."""

from __future__ import annotations

from nasdip.report.compare import curves_figure, plot_curves, run_labels


def summary(run_dir, searcher="random", task="sr (scale=4)", reward="psnr", rewards=(20.0, 21.0, 21.5)):
    curve = [{"evaluations": i + 1, "best_reward": r, "seconds": 3.0 * (i + 1)} for i, r in enumerate(rewards)]
    return {"run_dir": run_dir, "searcher": searcher, "task": task, "reward": reward, "curve": curve}


def test_labels_are_short_and_distinct():
    runs = [summary("runs/random"), summary("runs/rl-sr-seed0", "rl"), summary("a/baseline", "evolution"),
            summary("b/baseline", "evolution")]
    assert run_labels(runs) == ["runs/random", "runs/rl-sr-seed0", "evolution: a/baseline", "evolution: b/baseline"]
    assert run_labels(runs[:2]) == ["random", "rl-sr-seed0"]  # not "random (random)"
    assert run_labels([summary("x/rl", "rl"), summary("x/rl", "rl")]) == ["x/rl", "x/rl (2)"]


def test_curves_have_titles_units_and_integer_evaluation_ticks(tmp_path):
    figure = curves_figure([summary("runs/random"), summary("runs/rl", "rl", rewards=(19.0, 22.0))])
    by_count, by_time = figure.axes
    assert by_count.get_title() == "sr (scale=4): best psnr by evaluations"
    assert by_count.get_ylabel() == by_time.get_ylabel() == "best psnr so far (dB)"
    assert by_count.get_xlabel() == "evaluations" and by_time.get_xlabel() == "wall-clock time (s)"
    figure.canvas.draw()
    ticks = [tick for tick in by_count.get_xticks() if by_count.get_xlim()[0] <= tick <= by_count.get_xlim()[1]]
    assert ticks and all(float(tick).is_integer() for tick in ticks)
    assert [text.get_text() for text in by_count.get_legend().get_texts()] == ["random", "rl"]
    assert figure.get_suptitle() == "Search progress: best reward found so far"
    assert plot_curves([summary("runs/random")], tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")


def test_runs_of_different_tasks_or_rewards_get_their_own_panels():
    figure = curves_figure([summary("a/rl", "rl"), summary("b/rl", "rl", task="denoise (sigma=25.0)"),
                            summary("c/rl", "rl", reward="ssim", rewards=(0.5, 0.6))])
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["sr (scale=4): best psnr by evaluations", "sr (scale=4): best psnr by time",
                      "denoise (sigma=25.0): best psnr by evaluations", "denoise (sigma=25.0): best psnr by time",
                      "sr (scale=4): best ssim by evaluations", "sr (scale=4): best ssim by time"]
    assert figure.axes[4].get_ylabel() == "best ssim so far"  # SSIM has no unit
    assert [len(axis.get_lines()) for axis in figure.axes] == [1, 1, 1, 1, 1, 1]
