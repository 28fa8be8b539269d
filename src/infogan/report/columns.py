"""Which categorical code each column of the report's grids shows, and how it is labelled.

Every grid of a run (final grids, progression, traversal GIFs, the comparison) uses
the same :class:`Columns`: code order until ``infogan eval`` has matched each code to
its own class (eval.json's ``category_to_digit``, the matching the latent explorer and
``generate --categories by-digit`` use), class order afterwards. A column's label
names the class above the code ("2" over "code 1", "Dress" over "code 1" on
Fashion-MNIST), so that a categorical value never reads like the continuous codes c1, c2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infogan.data.idx import IDX_DATASETS

#: below this share of generated digits drawn as Q's matching says, the labels warn
LOW_AGREEMENT = 0.5


@dataclass(frozen=True)
class Columns:
    """Which categorical code each grid column shows, its label and the axis title."""

    order: list[int]  # order[j]: the code drawn in column j
    labels: list[str]  # column j's label, one line per "\n": "2\ncode 1" (class, code)
    title: str  # the axis title over the columns (a second line where a warning applies)
    caption: str  # a sentence for the page: what the columns are and how far to trust it

    def text(self, j: int) -> str:
        """Column ``j``'s label on one line: "2 (code 1)", or "code 1"."""
        lines = self.labels[j].split("\n")
        return f"{lines[0]} ({lines[1]})" if len(lines) > 1 else lines[0]


def code_label(code: int) -> str:
    """A categorical value's name everywhere in the report: "code 3"."""
    return f"code {code}"


def compact_label(label: str) -> str:
    """A column label without the word "code" ("2\ncode 11" -> "2\n11"), for columns too
    narrow for the whole label; the column title says what the numbers are."""
    return "\n".join(line.removeprefix("code ") for line in label.split("\n"))


def one_class_each(mapping: Any, num_categories: int) -> bool:
    """Whether eval.json's ``category_to_digit`` gives each of the ``num_categories`` codes
    a class of its own: with ten codes each class once, with fewer some of them; with
    more codes than classes the matching leaves codes out (-1), and this is False."""
    return (
        isinstance(mapping, list)
        and len(mapping) == num_categories
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in mapping)
        and len(set(mapping)) == num_categories
    )


def columns_for(evaluation: dict[str, Any], num_categories: int, dataset: str = "mnist") -> Columns:
    """Code order, or, once ``infogan eval`` has matched every code to its own class
    (:func:`one_class_each`), class order: the columns show the codes by their matched
    class (with ten codes, column k the code of class k), labelled with both. Where the
    generated images follow that matching for fewer than ``LOW_AGREEMENT`` of them
    (eval.json's ``generated_accuracy_q_matching``), the title says so. The classes are
    digits on MNIST: eval.json's ``dataset`` says which, or, before an evaluation, the
    run's ``dataset``."""
    k = num_categories
    mapping = evaluation.get("category_to_digit")
    mnist = evaluation.get("dataset", dataset) == "mnist"
    noun, real = ("digit", "real test digits") if mnist else ("class", "real test images")
    if not one_class_each(mapping, k):
        unmatched = isinstance(mapping, list) and len(mapping) == k and -1 in mapping
        why = (  # more codes than classes: the matching leaves some codes without one
            f", in code order: infogan eval matched only {k - mapping.count(-1)} of the {k} "
            f"codes to a {noun}."
            if unmatched
            else f" (once the run is evaluated, in the order of the {noun} Q reads from each)."
        )
        return Columns(
            list(range(k)),
            [code_label(c) for c in range(k)],
            "categorical code (one value per column)",
            f"Columns: the categorical code's values, code 0 to code {k - 1}{why}",
        )
    order = sorted(range(k), key=lambda code: mapping[code])
    title = f"{noun} Q reads from each code (above the code), as matched by infogan eval"
    caption = (
        f"Columns in {noun} order: each column is the code that Q reads as the {noun} above "
        f"it on {real} (infogan eval's matching), labelled with the {noun} above the code."
    )
    agreement = evaluation.get("generated_accuracy_q_matching")
    if isinstance(agreement, int | float) and agreement < LOW_AGREEMENT:
        items = "digits" if mnist else "images"
        title += f"\n(the generated {items} follow it for only {agreement:.0%})"
        caption += (
            f" The generated images follow this matching for only {agreement:.0%}: a label "
            f"says which {noun} Q reads from the code, not what G draws with it."
        )
    known = IDX_DATASETS.get(evaluation.get("dataset", dataset))
    names = known.classes if known is not None else ()
    labels = [
        f"{names[mapping[c]] if mapping[c] < len(names) else mapping[c]}\n{code_label(c)}"
        for c in order
    ]
    return Columns(order, labels, title, caption)
