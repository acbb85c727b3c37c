"""Progress: short bar texts, one console line per epoch in batch runs, nothing stale in the notebook."""

from __future__ import annotations

import nbformat

from helpers.training import EpochLines, short_postfix


def test_short_postfix_prefers_held_out_numbers_and_stays_short():
    record = {
        "epoch": 3,
        "train_loss": 0.3123,
        "train_acc": 0.91,
        "test_loss": 0.28951,
        "test_acc": 0.9134,
        "time_s": 4.2,
    }
    assert short_postfix(record) == "test loss 0.29 acc 91.3%"
    assert short_postfix({"epoch": 1, "train_loss": 0.5, "val_loss": 0.0123}) == "val loss 0.0123"
    assert short_postfix({"epoch": 1, "train_loss": 0.5}) == "train loss 0.5"
    assert len(short_postfix(record, width=12)) == 12 and short_postfix(record, width=12).endswith("…")


def test_epoch_lines_write_one_line_per_epoch_and_a_line_for_an_early_stop():
    lines = []
    bar = EpochLines(range(1, 5), "40-filter CNN", total=4, unit="epoch", write=lines.append)
    for epoch in bar:
        bar.set_postfix_str(f"test acc {epoch}")
    assert [line.split(" (")[0] for line in lines] == [f"40-filter CNN: epoch {e}/4 test acc {e}" for e in range(1, 5)]
    lines.clear()
    bar = EpochLines(range(10), "GAN 1/2", unit="batch", per_item=False, write=lines.append)
    for step in bar:
        if step == 2:
            break
    bar.set_postfix_str("D 1.2 G 0.7")
    bar.close()
    bar.close()
    assert len(lines) == 1 and lines[0].startswith("GAN 1/2: batch 3/10 D 1.2 G 0.7")


CELLS = [
    "from helpers.data import ImageDataset\nimport torch\nfrom torch import nn\n"
    "from helpers.training import Trainer\nfrom helpers.explorers import conv_size_calculator",
    "data = ImageDataset('random', 'train', torch.rand(64, 1, 4, 4), torch.arange(64) % 2, ('a', 'b'))\n"
    "history = Trainer(epochs=3, batch_size=16, device='cpu', name='tiny').fit("
    "nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), data, data)",
    "conv_size_calculator()",
]


def test_plain_papermill_keeps_bars_and_widgets_out_of_the_notebook(tmp_path, monkeypatch, capfd):
    import papermill

    from helpers.paths import REPO_ROOT

    monkeypatch.delenv("WORKBOOK_PROGRESS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(nb, str(tmp_path / "in.ipynb"))
    papermill.execute_notebook(
        str(tmp_path / "in.ipynb"),
        str(tmp_path / "out.ipynb"),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    executed = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    outputs = [o for cell in executed.cells for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    explorer_outputs = executed.cells[2].outputs
    assert [sorted(o.data) for o in explorer_outputs] == [["image/png", "text/plain"]]
    console = capfd.readouterr().err
    assert [
        line.split(":")[1].split(" (")[0].split(" test")[0] for line in console.splitlines() if line.startswith("tiny:")
    ] == [" epoch 1/3", " epoch 2/3", " epoch 3/3"]
