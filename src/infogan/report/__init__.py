"""The run report: loss and discriminator curves, final grids, progression, traversal
GIFs, the GAN-vs-InfoGAN comparison, and ``report.html`` that shows them all.

    from infogan.report import write_report
    report = write_report("runs/quick64", baseline="runs/quick64-gan")
"""

from infogan.report.build import Report, write_report
from infogan.report.compare import Comparison, train_comparison
from infogan.report.rundata import RunData, load_run

__all__ = ["Comparison", "Report", "RunData", "load_run", "train_comparison", "write_report"]
