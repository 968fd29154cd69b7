"""The `zoo index`, `zoo search` and `zoo optimizers` verbs."""

from zoo.tuning.cli.main import main


def test_optimizers_verb_writes_curves_paths_and_the_table(tmp_path, capsys):
    assert main(["optimizers", "--out", str(tmp_path), "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "quadratic, momentum" in out
    written = {p.name for p in tmp_path.iterdir()}
    assert {"loss_curves.png", "paths_quadratic.png", "worked_example.md"} <= written


def test_index_and_search_verbs(tmp_path, capsys):
    corpus = tmp_path / "docs.txt"
    corpus.write_text("the cat sat on the mat\nstock prices fell\napple pie recipe\n")
    out = tmp_path / "index"
    assert main(["index", str(corpus), "--out", str(out), "--encoder", "random"]) == 0
    assert main(["search", str(out), "apple pie recipe", "-k", "2"]) == 0
    printed = capsys.readouterr().out
    assert "query: apple pie recipe" in printed and "line" in printed
    # A second build into the same folder names --resume; exit code 2.
    assert main(["index", str(corpus), "--out", str(out), "--encoder", "random"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_attention_verb_prints_rounded_attention_shares(tmp_path, capsys, monkeypatch):
    import json

    from zoo.tuning import attention_report

    real = attention_report.write_attention_report
    monkeypatch.setattr(  # the tiny random BERT: no MiniLM file, seconds
        attention_report,
        "write_attention_report",
        lambda *args, **kwargs: real(*args, encoder="random", **kwargs),
    )
    out = tmp_path / "attention"
    code = main(
        ["attention", "a river bank", "a bank loan", "--word", "bank"]
        + ["--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 0
    saved = json.loads((out / "similarity.json").read_text())
    token, weight = saved["word_attends_to"]["sentence_1"][0]
    # "token 0.123": the weights rounded, not a Python list of tuples.
    assert f"'bank' attends most to {token} {weight:.3f}" in printed
    assert "[(" not in printed
    assert {"sentence_1_heads.png", "sentence_2_average.png"} <= {
        p.name for p in out.iterdir()
    }
