"""The exported folder's figures and its model card (``README.md``, Hugging Face style:
YAML front matter, then what the model is, how it was trained, how it scores, and how to
use it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infogan.api import InfoGANModel
from infogan.data import IDX_DATASETS
from infogan.report import figures as fig
from infogan.report.draw import code_grid, grid_columns, report_noise, sweep_figure


def draw_figures(
    model: InfoGANModel, evaluation: dict[str, Any], folder: Path, names: dict[str, str]
) -> None:
    """``samples``: ten noise draws (rows) x the codes (columns, in digit order once the
    run is evaluated); ``c1``, ``c2``, ...: each continuous code from -1 (top) to +1,
    noise 0."""
    cols = grid_columns(evaluation, model)
    noise = report_noise(model)
    at_zero = " = ".join(f"c{i + 1}" for i in range(model.config.latent.num_continuous)) + " = 0"
    fig.plot_grid_panels(
        [fig.GridPanel(code_grid(model, model.code.grid_fixed(noise), cols.order), at_zero)],
        folder / names["samples"],
        title="random noise (rows), continuous codes at 0",
        col_labels=cols.labels,
        col_title=cols.title,
        row_labels=[f"z{r + 1}" for r in range(noise.shape[0])],
        row_title="noise vector z (one per row)",
    )
    for which in range(model.config.latent.num_continuous):
        name = f"c{which + 1}"
        sweep_figure(
            model,
            which,
            cols,
            folder / names[name],
            title=f"{name} varied from -1 (top) to +1 (bottom)",
        )


def _number(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else "not measured"


def _factors(evaluation: dict[str, Any]) -> list[str]:
    lines = []
    for code in evaluation.get("continuous", []):
        rho = code.get("spearman", {})
        controls = code.get("controls") or "no measured factor"
        detail = ", ".join(f"{k} ρ = {_number(v, '+.2f')}" for k, v in rho.items())
        lines.append(f"| {code.get('code')} | {controls} | {detail} |")
    return lines


def _metrics(evaluation: dict[str, Any], labelled: bool = True) -> str:
    if not evaluation and not labelled:
        return (
            "A folder of images has no labels to match the categorical code against, so "
            "this model has no `infogan eval` metrics.\n"
        )
    if not evaluation:
        return (
            "This model was exported before it was evaluated: run `infogan eval` on the run "
            "and export again to have its metrics here.\n"
        )
    counts = evaluation.get("counts", {})
    source = str(evaluation.get("checkpoint", ""))
    measured = (
        "the run's checkpoint (float32 weights) before export"
        if source.endswith(".pt")
        else "the weights as stored in this folder"
    )
    classifier = evaluation.get("classifier", {})
    rows = [
        "| metric | value | meaning |",
        "|---|---|---|",
        f"| unsupervised accuracy | {_number(evaluation.get('unsupervised_accuracy'), '.4f')} | "
        f"Q's categorical code on {_number(counts.get('test_digits'), ',')} real test digits, each "
        "code matched to one digit (Hungarian matching); labels are used only to score |",
        f"| generated-category accuracy | {_number(evaluation.get('generated_accuracy'), '.4f')}"
        " | the evaluation classifier's digit for generated samples, against the code that "
        "made them (same matching) |",
        f"| Fréchet distance | {_number(evaluation.get('frechet_distance'), '.2f')} | "
        "generated against real test digits, in the evaluation classifier's 128 features; "
        f"real training against test digits score "
        f"{_number(evaluation.get('frechet_distance_train_vs_test'), '.2f')} |",
        f"| inception score | {_number(evaluation.get('inception_score'), '.2f')} | "
        "in that classifier (10 at most) |",
        f"| L_I / H(c) | {_number(evaluation.get('info_bound_nats'), '.3f')} / "
        f"{_number(evaluation.get('entropy_nats'), '.3f')} nats | the information bound "
        "against the code's entropy |",
    ]
    digest = classifier.get("digest") or "unknown"
    factors = _factors(evaluation)
    text = "\n".join(rows) + "\n\n"
    text += f"Measured by `infogan eval` on {measured}. Evaluation classifier: the "
    text += f"one that ships with infogan, SHA-256 `{digest}`.\n\n"
    if factors:
        text += (
            "| code | controls | Spearman correlation with each measured factor |\n"
            "|---|---|---|\n" + "\n".join(factors) + "\n"
        )
    return text


def write_card(
    path: Path, info: dict[str, Any], evaluation: dict[str, Any], names: dict[str, str]
) -> None:
    config = info["config"]
    prov = info.get("provenance", {})
    preset = config["preset"]
    dataset = config["data"]["dataset"]
    labelled = dataset in IDX_DATASETS
    # a folder is named by its last part: the card is for sharing, the path is this machine's
    title = IDX_DATASETS[dataset].title if labelled else f"images ({Path(dataset).name})"
    size = config["data"]["image_size"]
    channels = config["data"].get("channels") or 1
    noun, plural = ("digit", "digits") if dataset == "mnist" else ("class", "classes")
    latent = config["latent"]
    k, codes = latent["num_categories"], [f"c{i + 1}" for i in range(latent["num_continuous"])]
    named = ", ".join(codes)
    count = {2: "two", 3: "three", 4: "four"}.get(len(codes), str(len(codes)))
    # a usage example that fits this model's code: three codes, a row of values each
    example_codes = [0, 1, min(2, k - 1)]
    rows = [[0] * len(codes) for _ in range(3)]
    rows[1][0], rows[2][1] = 1, -1
    example = f"model.generate({example_codes}, {rows}, seed=0)"
    what = f"{title} images" if labelled else title  # a folder's title: "images (NAME)"
    accuracy = evaluation.get("unsupervised_accuracy")
    front = [
        "---",
        "license: mit",
        "library_name: pytorch",
        "tags: [infogan, gan, unsupervised, disentanglement, image-generation]",
        "pipeline_tag: unconditional-image-generation",
    ]
    if labelled:
        front.insert(3, f"datasets: [{dataset}]")
    if isinstance(accuracy, float):
        front += [
            "model-index:",
            f"  - name: infogan-{preset}-{dataset}",
            "    results:",
            "      - task: {type: unsupervised-classification}",
            f"        dataset: {{name: {dataset}, type: {dataset}, split: test}}",
            "        metrics:",
            f"          - {{type: accuracy, name: unsupervised accuracy, value: {accuracy:.4f}}}",
        ]
    front.append("---")
    seconds = prov.get("seconds")
    minutes = f"{seconds / 60:.1f} min" if isinstance(seconds, int | float) else "not recorded"
    lines = [
        *front,
        "",
        f"# InfoGAN `{preset}` on {title} ({size}x{size})",
        "",
        f"A generator of {'handwritten digits' if dataset == 'mnist' else what} "
        f"whose latent code was learned without labels: a {k}-way categorical code that "
        f"picks the class and {count} continuous codes ({named}) that "
        "control how it is drawn, with the Q network that reads those codes back from an "
        "image. Made with the `infogan` package.",
        "",
        f"![samples]({names['samples']})",
        "",
        "## Use",
        "",
        "```python",
        "from infogan import InfoGANModel",
        "",
        'model = InfoGANModel.from_pretrained("path/to/this/folder")',
        f"images = {example}  # (3, {channels}, H, W)",
        f"logits, codes = model.q_predict(images)  # Q's categorical logits and {named}",
        "```",
        "",
        "Or from the command line: `infogan generate FOLDER --out grid.png`"
        + (", `infogan serve FOLDER` (the latent explorer)" if len(codes) == 2 else "")
        + (", `infogan eval FOLDER`" if labelled else "")
        + ".",
        "",
        "Columns of the figures are categorical codes; once evaluated, each is labelled with "
        f"the {noun} it was matched to. Codes are indices, not {plural}: use "
        f"`category_to_digit` in `eval.json` to ask for a {noun}.",
        "",
        "## Metrics",
        "",
        _metrics(evaluation, labelled),
        *(line for code in codes for line in (f"![{code} sweep]({names[code]})", "")),
        "## Training",
        "",
        f"- command: `{prov.get('command')}`",
        f"- iterations: {info.get('step')}; time: {minutes} on {prov.get('hardware') or '?'} "
        f"({prov.get('precision') or '?'})",
        f"- commit: {prov.get('commit') or 'not recorded'}; infogan {prov.get('infogan') or '?'}, "
        f"torch {prov.get('torch') or '?'}; finished {prov.get('finished_at') or '?'}",
        f"- weights: `model.safetensors`, {info['storage']} storage, SHA-256 "
        f"`{info.get('weights_sha256') or 'not recorded'}`",
        "",
        "## Intended use and limits",
        "",
        "For exploring and teaching what InfoGAN's latent codes learn, and as a baseline for "
        f"research on unsupervised disentanglement. It only knows {title}: "
        f"{size}x{size} {'greyscale' if channels == 1 else 'colour'} images centred like the "
        f"training set's. Which code is which {noun} is arbitrary and is known only by "
        "matching against labels (`eval.json`); a code may mix two similar ones on some "
        "samples, as the confusion matrix in `eval.json` shows. The continuous codes' "
        "meaning is measured on sweeps and holds within the prior's range [-1, 1]; outside "
        "it the images degrade. Not for "
        "recognising digits in the wild or any decision about people.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
