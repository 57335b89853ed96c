"""The report: Markdown sections plus matplotlib PNG plots, written into one folder."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend


class Report:
    def __init__(self, folder: Path, title: str) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lines = [f"# {title}", ""]

    def section(self, title: str, *paragraphs: str) -> None:
        self._lines += [f"## {title}", "", *[p + "\n" for p in paragraphs]]

    def table(self, header: list[str], rows: list[list[object]]) -> None:
        self._lines.append("| " + " | ".join(header) + " |")
        self._lines.append("|" + "---|" * len(header))
        for row in rows:
            self._lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
        self._lines.append("")

    def bars(self, name: str, title: str, labels: list[str], values: list[float], ylabel: str) -> None:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.bar(labels, values, color="#4a7ab5")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.tick_params(axis="x", labelrotation=20)
        self._save(fig, name, title)

    def lines(
        self,
        name: str,
        title: str,
        xs: list[float],
        series: dict[str, list[float]],
        figsize: tuple[float, float] = (7, 3.5),
        legend_outside: bool = False,
        **axes,
    ) -> None:
        fig, ax = plt.subplots(figsize=figsize)
        for i, (label, ys) in enumerate(series.items()):
            # The colour cycle has 10 colours: the next 10 lines are dashed, and so on.
            ax.plot(xs, ys, marker="o", linestyle=("-", "--", ":")[i // 10 % 3], label=label)
        ax.set(title=title, **axes)
        if legend_outside:  # many lines: the legend beside the plot, not over it
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
        else:
            ax.legend()
        self._save(fig, name, title)

    def _save(self, fig, name: str, title: str) -> None:
        fig.tight_layout()
        fig.savefig(self.folder / f"{name}.png", dpi=100)
        plt.close(fig)
        self._lines += [f"![{title}]({name}.png)", ""]

    def write(self) -> Path:
        path = self.folder / "report.md"
        path.write_text("\n".join(self._lines) + "\n")
        return path


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)
