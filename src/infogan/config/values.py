"""The values a config may take, and the names the checks and the rest of the code share.

The architectures' image sizes and the dataset names are listed here; :mod:`infogan.models`
and :mod:`infogan.data` use these lists, so the config imports nothing above it.
"""

PRECISIONS = ("auto", "fp32", "bf16")
#: how Q's continuous codes are scored: squared error of Q's estimates (the seed's Q; with
#: the paper's Gaussian Q, of its means), or the Gaussian's negative log-likelihood
CONT_LOSSES = ("mse", "gaussian")
#: the image size each architecture works at (:mod:`infogan.models` builds them)
ARCH_SIZES = {"seed64": 64, "paper28": 28}
#: architectures whose Q gives a mean and a log-std per continuous code
GAUSSIAN_Q_ARCHS = ("paper28",)
#: the IDX datasets by name; ``folder:PATH`` names every PNG/JPEG under PATH
IDX_DATASET_NAMES = ("mnist", "fashion-mnist")
FOLDER_PREFIX = "folder:"
#: what a transformed copy can have done to it (:mod:`infogan.augment`): ``restyle`` (a new
#: slant from MNIST's range and up to 20% narrower or wider), ``turn`` (by up to ``amount``
#: degrees either way), ``thicken`` (towards a 3x3 dilation or erosion by up to ``amount``)
TRANSFORMS = ("restyle", "turn", "thicken")
#: the only settings ``infogan train --resume`` may change: how long, and where
RESUMABLE = ("train.epochs", "train.max_steps", "train.device")
