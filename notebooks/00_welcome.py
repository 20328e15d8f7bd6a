# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Welcome to handoccnet-lite
#
# **Goal.** Know what HandOccNet does, why occlusion is the problem it attacks, what this
# collection will build, and whether your machine is ready to run it.
#
# After this notebook you will be able to
# - describe HandOccNet's pipeline from an image to a 3D hand mesh in one sentence per stage;
# - say what the two transformers, FIT and SET, are for;
# - read the environment report and fix what it flags (MANO, data, GPU).
#
# Paper: J. Park, Y. Oh, G. Moon, H. Choi, K. M. Lee, *HandOccNet: Occlusion-Robust 3D Hand Mesh
# Estimation Network*, CVPR 2022. Spec used here: the supplementary material's Algorithms 1 and 2.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": minutes on a laptop CPU; "full": the complete runs (GPU advised)

# %%
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

import handoccnet_lite
from handoccnet_lite import doctor
from handoccnet_lite.utils import save_figure

print("handoccnet-lite", handoccnet_lite.__version__, "| profile:", PROFILE)

# %% [markdown]
# ## 1. The problem: hands hide themselves and hide behind objects
#
# A hand holding a mug is mostly invisible: the fingers wrap behind the mug, the palm faces away.
# Earlier methods treated the occluded pixels as noise and tried to ignore them. HandOccNet does
# the opposite:
#
# > "... we propose a novel 3D hand mesh estimation network HandOccNet, that can fully exploit the
# > information at the occluded regions as a secondary means to enhance image features and make it
# > much richer." (paper, abstract)
#
# Its key move: **inject hand information into the occluded regions** of the feature map, then
# refine the result with self-attention, and only then regress the mesh.
#
# ## 2. The pipeline
#
# | stage | in | out | notebook |
# |---|---|---|---|
# | backbone (ResNet + FPN) | image (B, 3, 256, 256) | feature F (B, 256, 32, 32) | 03 |
# | spatial gate | F | primary F_P = F·s, secondary F_S = F·(1-s) | 03 |
# | **FIT** (feature injecting transformer) | F_S (queries), F_P (keys, values) | F_FIT | 04 |
# | **SET** (self-enhancing transformer) | F_FIT | F_SET | 05 |
# | regressor | F_SET | 2D heatmaps, MANO pose and shape, mesh | 06 |
#
# The figure below is the same pipeline drawn with boxes (made by the next cell).

# %%
STAGES = [
    ("image", "#dddddd"),
    ("ResNet + FPN", "#c6dbef"),
    ("spatial gate\nF_P, F_S", "#9ecae1"),
    ("FIT\ninject", "#fdae6b"),
    ("SET\nrefine", "#fd8d3c"),
    ("regressor\nMANO", "#a1d99b"),
    ("3D mesh", "#dddddd"),
]


def draw_pipeline(stages: list[tuple[str, str]]):
    fig, ax = plt.subplots(figsize=(11, 1.8))
    for i, (label, colour) in enumerate(stages):
        box = FancyBboxPatch((i * 1.5, 0), 1.1, 1, boxstyle="round,pad=0.05", fc=colour, ec="k")
        ax.add_patch(box)
        ax.text(i * 1.5 + 0.55, 0.5, label, ha="center", va="center", fontsize=9)
        if i:
            arrow = FancyArrowPatch(
                (i * 1.5 - 0.4, 0.5), (i * 1.5, 0.5), arrowstyle="-|>", mutation_scale=14
            )
            ax.add_patch(arrow)
    ax.set_xlim(-0.2, len(stages) * 1.5)
    ax.set_ylim(-0.2, 1.2)
    ax.axis("off")
    return fig


fig = draw_pipeline(STAGES)
save_figure(fig, "00_pipeline")
plt.show()

# %% [markdown]
# ## 3. Is this machine ready?
#
# The report below checks the packages, the device, MANO, the bundled data and the bundled model.
# `[info]` lines are fine; `[warn]` lines say what to run.

# %%
checks = doctor.run_checks()
print(doctor.report())

# %%
status = {c.name: c.status for c in checks}
assert status["torch"] == "ok" and status["smplx"] == "ok", "run `make venv` first"
print("MANO available:", doctor.find_mano_file() is not None)

# %% [markdown]
# ## 4. What is ours and what is the paper's
#
# - Everything here runs without downloads. The hand model is **SynthHand**, built by this
#   project's code with MANO's parameterisation; real MANO is used when you supply it.
# - The data in `data_samples/` is **SynthOcc**, rendered by this project's code. Numbers measured
#   on it are labelled *synthetic* and are not comparable with the paper's HO-3D or Dex-YCB numbers.
# - The paper's published numbers appear only as the paper's, with their source (notebook 10).
#
# ## Summary
# HandOccNet = backbone, a spatial gate splitting hand-likely (primary) from occluded-likely
# (secondary) features, FIT injecting primary information into secondary locations, SET refining
# with self-attention, and a MANO regressor.
#
# ## Exercises
# 1. In one sentence each: why does FIT use the *secondary* feature as the query and the
#    *primary* feature as key and value, and not the other way round?
# 2. Run `handoccnet-lite doctor` in a terminal and compare it with the report above.
# 3. If you have a GPU, rerun this notebook: which line of the report changes?
